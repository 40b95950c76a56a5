"""A decision record holds every input the core judged, and no token: through the real
forward-auth handler into the decision log and the capture file (docs/adr/0013)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.observability.capture import CaptureFile
from app.adapters.observability.decision_log import FIELDS, INPUT_FIELDS, decision_log
from app.adapters.observability.lines import BufferedLines
from app.bootstrap import prepare_process
from app.config import load_settings
from app.core.context import Device, Identity, IPAddress
from app.services.decide import DecisionService
from tests.adapters.forward_auth.scenario import NOW, POLICIES, Grants, Observer, call, nginx

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SERVICE_TOKEN = "cst_" + "A1b2" * 11
BOB = Identity(
    "u-bob",
    "bob@example.com",
    frozenset({"sre", "sre-leads"}),
    amr=frozenset({"pwd", "mfa"}),
    claims=MappingProxyType(
        {
            "department": "operations",
            "roles": ("oncall", "admin"),
            "address": MappingProxyType({"city": "Paris"}),
            "refresh_token": "opaque-secret",
            "sub": "u-bob",
        }
    ),
    issuer="https://idp.example.com",
)
MANAGED = Device(managed=True, tags=frozenset({"disk-encrypted"}), device_id="d-7")


def handler_for(identity: Identity, device: Device = MANAGED) -> ForwardAuth:
    """The forward-auth handler of the unit scenario, with `identity` behind every token and
    `device` as the trusted device signal."""

    async def identify(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
        return (identity, None) if "authorization" in headers else (None, None)

    def signals(
        _peer: str, _headers: Mapping[str, str], _identity: Identity | None
    ) -> tuple[IPAddress | None, str | None, Device]:
        return ip_address("198.51.100.7"), "FR", device

    service = DecisionService(
        policies=lambda: POLICIES,
        grants=Grants(),
        clock=lambda: NOW,
        observer=Observer(),
        store_timeout=0.5,
    )
    return ForwardAuth(
        decisions=service,
        identify=identify,
        signals=signals,
        is_trusted_peer=lambda peer: peer == "127.0.0.1",
        targets=Targets("https://auth.example.com/login", "https://auth.example.com/request"),
    )


class Sinks:
    """Where a test's decision lines go: the log (in memory) and the capture file."""

    def __init__(self, directory: Path, *, claims: tuple[str, ...] = ()) -> None:
        self.log = io.BytesIO()
        self.capture_path = directory / "decisions.jsonl"
        decision_log.configure(
            BufferedLines(self.log, interval=0),
            min_level=logging.INFO,
            capture=CaptureFile(self.capture_path),
            claims=claims,
        )

    def capture(self) -> bytes:
        """What the capture file holds once flushed."""
        decision_log.flush()
        return self.capture_path.read_bytes()

    def lines(self) -> list[dict[str, object]]:
        """The log's lines."""
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture(name="sinks")
def sinks_fixture(tmp_path: Path) -> Iterator[Sinks]:
    """Decision lines to memory and a capture file, claims `department` and `roles` named."""
    yield Sinks(tmp_path, claims=("department", "roles", "address", "refresh_token"))
    decision_log.configure(None, min_level=logging.INFO)


def test_a_decision_line_carries_every_input_the_core_judged(sinks: Sinks) -> None:
    """Person (subject, issuer, e-mail, groups, amr), signals (IP, country, device), the
    request and the time: all on the line, as the core saw them."""
    call(handler_for(BOB), "/auth/nginx", nginx("https://grafana.example.com/d/1", "t"))
    (line,) = sinks.lines()
    assert set(INPUT_FIELDS) <= set(line)
    assert set(line) - {"event", "level", "timestamp"} <= FIELDS
    assert (line["subject"], line["issuer"]) == ("u-bob", "https://idp.example.com")
    assert (line["user"], line["email"]) == ("bob@example.com", "bob@example.com")
    assert line["groups"] == ["sre", "sre-leads"]
    assert line["amr"] == ["mfa", "pwd"]
    assert (line["client_ip"], line["country"]) == ("198.51.100.7", "FR")
    assert (line["device_managed"], line["device_tags"]) == (True, ["disk-encrypted"])
    assert (line["method"], line["host"], line["path"]) == ("GET", "grafana.example.com", "/d/1")


def test_only_named_comparable_claims_are_recorded(sinks: Sinks) -> None:
    """Named scalar and list claims are recorded; a nested one and a secret-named one are not,
    and an unnamed claim never is."""
    call(handler_for(BOB), "/auth/nginx", nginx("https://grafana.example.com/", "t"))
    (line,) = sinks.lines()
    assert line["claims"] == {"department": "operations", "roles": ["oncall", "admin"]}
    assert b"opaque-secret" not in sinks.log.getvalue()
    assert b"opaque-secret" not in sinks.capture()


def test_an_anonymous_decision_records_no_person(sinks: Sinks) -> None:
    """Without identity the person fields are empty, so a replay judges an anonymous caller."""
    call(handler_for(BOB), "/auth/nginx", nginx("https://grafana.example.com/healthz"))
    (line,) = sinks.lines()
    assert line["effect"] == "allow"
    assert (line["user"], line["subject"], line["groups"], line["claims"]) == (None, None, [], {})


def test_the_capture_holds_decisions_only(sinks: Sinks) -> None:
    """A decision goes to the capture exactly as to the log; a refused check (an untrusted
    caller's 400) does not: it decided nothing."""
    handler = handler_for(BOB)
    call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1", "t"))
    call(handler, "/auth/nginx", nginx("https://grafana.example.com/", "t"), client=("10.9.9.9", 1))
    captured = sinks.capture().splitlines()
    assert len(sinks.lines()) == 2
    assert [json.loads(line)["event"] for line in captured] == ["decision_made"]
    assert captured[0] == sinks.log.getvalue().splitlines()[0]


def test_the_capture_is_written_when_logs_are_not_json(tmp_path: Path) -> None:
    """With console logging (structlog renders the log line) the capture still gets JSON."""
    path = tmp_path / "decisions.jsonl"
    decision_log.configure(None, min_level=logging.INFO, capture=CaptureFile(path))
    try:
        call(handler_for(BOB), "/auth/nginx", nginx("https://grafana.example.com/d/1", "t"))
        decision_log.flush()
    finally:
        decision_log.configure(None, min_level=logging.INFO)
    (line,) = path.read_bytes().splitlines()
    assert json.loads(line)["subject"] == "u-bob"


def test_the_capture_file_is_private(sinks: Sinks) -> None:
    """Records name people and where they went: the file is readable by its owner only."""
    call(handler_for(BOB), "/auth/nginx", nginx("https://grafana.example.com/", "t"))
    sinks.capture()
    assert sinks.capture_path.stat().st_mode & 0o077 == 0


TOKENS = st.sampled_from([JWT, SERVICE_TOKEN])
#: Where a token may reach a record: what the client sends, and what a token says.
PLACES = ("path", "group", "amr", "claim", "claim_list", "device_tag", "subject", "email")


def _carrying(token: str, where: str) -> tuple[Identity, Device, str]:
    """BOB with `token` in one field, his device, and the path to ask for."""
    path = f"/x/{token}" if where == "path" else "/d/1"
    identity = Identity(
        subject=token if where == "subject" else "u-bob",
        email=f"{token}@example.com" if where == "email" else "bob@example.com",
        groups=frozenset({token if where == "group" else "sre"}),
        amr=frozenset({token if where == "amr" else "mfa"}),
        claims=MappingProxyType(
            {
                "department": token if where == "claim" else "operations",
                "roles": (token,) if where == "claim_list" else ("oncall",),
            }
        ),
        issuer="https://idp.example.com",
    )
    device = Device(managed=True, tags=frozenset({token if where == "device_tag" else "ok"}))
    return identity, device, path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=TOKENS, where=st.sampled_from(PLACES))
def test_no_token_shaped_value_reaches_the_log_or_the_capture(
    tmp_path: Path, token: str, where: str
) -> None:
    """Whichever field a token reaches (the path a client sent, a group, a claim, a device
    tag...), neither the decision log nor the capture ever holds it."""
    identity, device, path = _carrying(token, where)
    sinks = Sinks(tmp_path, claims=("department", "roles"))
    try:
        call(
            handler_for(identity, device),
            "/auth/nginx",
            nginx(f"https://grafana.example.com{path}", "t"),
        )
        written = sinks.log.getvalue() + sinks.capture()
    finally:
        decision_log.configure(None, min_level=logging.INFO)
        sinks.capture_path.unlink()
    assert written.count(b"\n") == 2, written
    assert token.encode() not in written
    assert token[:12].encode() not in written


def test_a_capture_that_cannot_be_written_stops_start_up_in_one_line(tmp_path: Path) -> None:
    """A capture file in a missing directory is refused before workers start, naming the file
    and the setting (no traceback from the first decision)."""
    root = Path(__file__).resolve().parents[3]
    settings = load_settings(
        {
            "COUNTERSIGN_DEV": "1",
            "COUNTERSIGN_POLICY_DIR": str(root / "policy_rules"),
            "COUNTERSIGN_DATA_DIR": str(tmp_path),
            "COUNTERSIGN_DECISION_CAPTURE": str(tmp_path / "missing" / "decisions.jsonl"),
        }
    )
    problem = prepare_process(settings)
    assert problem is not None
    assert problem.startswith(f"cannot write the decision capture {tmp_path}/missing/")
    assert problem.endswith("(COUNTERSIGN_DECISION_CAPTURE)")

"""The decision log: one JSON line per decision, every field of today, no token ever."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.observability.decision_log import FIELDS, decision_log
from app.adapters.observability.lines import BufferedLines
from app.adapters.observability.redaction import REDACTED
from tests.adapters.forward_auth.scenario import build, call, nginx, traefik

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
#: What structlog's own processors add to every line.
ENVELOPE = {"event", "level", "timestamp"}


@pytest.fixture(name="lines")
def lines_fixture() -> Iterator[io.BytesIO]:
    """Decision lines written the way the service writes them, into memory."""
    raw = io.BytesIO()
    decision_log.configure(BufferedLines(raw, interval=0), min_level=logging.INFO)
    yield raw
    decision_log.configure(None, min_level=logging.INFO)


def _lines(raw: io.BytesIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in raw.getvalue().splitlines()]


def test_an_allow_is_one_line_with_every_field(lines: io.BytesIO) -> None:
    """The line says who, what, where, which policy, why, and how long it took."""
    handler, _, _ = build()
    call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1", "bob-token"))
    (line,) = _lines(lines)
    assert set(line) == FIELDS - {"peer", "problem"} | ENVELOPE
    assert line["event"] == "decision_made"
    assert line["level"] == "info"
    assert line["proxy"] == "nginx"
    assert line["method"] == "GET"
    assert line["host"] == "grafana.example.com"
    assert line["path"] == "/d/1"
    assert line["client_ip"] == "198.51.100.7"
    assert line["user"] == "bob@example.com"
    assert line["application"] == "grafana"
    assert line["policy"] == "SRE"
    assert line["effect"] == "allow"
    assert line["reasons"] == ["policy-allow", "groups-ok"]
    assert line["identity_problem"] is None
    assert line["status"] == 200
    assert isinstance(line["latency_ms"], float)
    assert str(line["timestamp"]).endswith("Z")


def test_a_refused_check_is_a_warning_with_the_problem(lines: io.BytesIO) -> None:
    """An untrusted caller gets its 400 and one warning line saying why, without a decision."""
    handler, _, _ = build()
    response = call(
        handler,
        "/auth/nginx",
        nginx("https://grafana.example.com/", "bob-token"),
        client=("203.0.113.9", 1),
    )
    assert response.status_code == 400
    (line,) = _lines(lines)
    assert line["level"] == "warning"
    assert line["effect"] == "bad_request"
    assert line["peer"] == "203.0.113.9"
    assert line["problem"] == "the caller is not a trusted proxy"
    assert set(line) <= FIELDS | ENVELOPE


def test_a_token_in_the_path_never_reaches_the_log(lines: io.BytesIO) -> None:
    """A token pasted into the URL is cut out of the logged path."""
    handler, _, _ = build()
    call(handler, "/auth/traefik", traefik(f"https://grafana.example.com/x/{JWT}", "bob-token"))
    assert JWT.encode() not in lines.getvalue()
    (line,) = _lines(lines)
    assert line["path"] == f"/x/{REDACTED}"


def test_info_lines_are_dropped_below_the_configured_level(lines: io.BytesIO) -> None:
    """COUNTERSIGN_LOG_LEVEL=warning keeps refusals and drops ordinary decisions."""
    decision_log.configure(BufferedLines(lines, interval=0), min_level=logging.WARNING)
    handler, _, _ = build()
    call(handler, "/auth/nginx", nginx("https://grafana.example.com/d/1", "bob-token"))
    call(
        handler,
        "/auth/nginx",
        nginx("https://grafana.example.com/", "bob-token"),
        client=("1.2.3.4", 1),
    )
    assert [line["effect"] for line in _lines(lines)] == ["bad_request"]


#: Where a client puts what a decision line may carry: a path segment, or the query.
PLACES = ("path", "query")
URL_SAFE = "abcdefghijklmnopqrstuvwxyz0123456789-._~"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=60, deadline=None)
@given(
    head=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", max_size=12),
    tail=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", max_size=12),
    payload=st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=5,
        max_size=40,
    ),
    where=st.sampled_from(PLACES),
)
def test_no_token_shaped_value_a_client_sends_is_ever_logged(
    head: str, tail: str, payload: str, where: str
) -> None:
    """Whatever surrounds it, a JWT-shaped value in the URL never appears in a decision line."""
    token = f"eyJ{payload}.eyJ{payload}.{payload}"
    raw = io.BytesIO()
    decision_log.configure(BufferedLines(raw, interval=0), min_level=logging.INFO)
    try:
        handler, _, _ = build()
        uri = f"/{head}{token}{tail}" if where == "path" else f"/q?{head}={token}{tail}"
        call(handler, "/auth/nginx", nginx(f"https://grafana.example.com{uri}", "bob-token"))
    finally:
        decision_log.configure(None, min_level=logging.INFO)
    assert raw.getvalue(), "no decision line was written"
    assert token.encode() not in raw.getvalue()
    assert b"eyJ" + payload.encode() + b".eyJ" not in raw.getvalue()

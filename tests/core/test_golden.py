"""The golden corpus: YAML files under golden/ pair an application document with cases that pin
the decision (effect, reasons, policy) for a request, a clock and a grant state."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from app.core.context import UNKNOWN_DEVICE, AccessContext, Device, Identity
from app.core.decision import NO_GRANTS, Effect, GrantState
from app.core.durations import parse_duration
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.core.policy.source import load_located
from app.core.reasons import Reason
from tests.core.personas import ALICE, BOB, MALLORY

GOLDEN = Path(__file__).parent / "golden"
PERSONAS = {"alice": ALICE, "bob": BOB, "mallory": MALLORY}
FILE_KEYS = {"description", "policy", "host", "now", "cases"}
CASE_KEYS = {"name", "request", "now", "grants", "expect"}
REQUEST_KEYS = {"user", "identity", "host", "path", "ip", "country", "device"}
IDENTITY_KEYS = {"subject", "email", "groups", "amr", "claims"}
GRANT_KEYS = {"grant_expires_at", "grant_id", "justified_until", "pending_request_id"}
EXPECT_KEYS = {"effect", "reasons", "policy", "application"}


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One case of one golden file, ready to evaluate."""

    file: Path
    name: str
    context: AccessContext
    now: datetime
    grants: GrantState | None
    effect: Effect
    reasons: tuple[Reason, ...]
    policy: str | None
    application: str | None


def _keys(value: Any, allowed: set[str], where: str) -> dict[str, Any]:
    """A mapping whose keys are all known: a typo in a case must fail, not default."""
    assert isinstance(value, dict), f"{where}: expected a mapping"
    unknown = set(value) - allowed
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    return value


def _timestamp(text: Any, where: str) -> datetime:
    """An ISO 8601 timestamp with an offset (quoted in the file)."""
    assert isinstance(text, str), f"{where}: expected a quoted ISO timestamp"
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{where}: {text} needs an offset"
    return value


def _instant(text: Any, now: datetime, where: str) -> datetime:
    """An ISO timestamp, or `now`, `now+30m`, `now-1s` relative to the case's clock."""
    if text == "now":
        return now
    if isinstance(text, str) and text.startswith(("now+", "now-")):
        offset = parse_duration(text[4:])
        return now + offset if text[3] == "+" else now - offset
    return _timestamp(text, where)


def _identity(raw: dict[str, Any], where: str) -> Identity | None:
    if "user" in raw:
        assert "identity" not in raw, f"{where}: give user or identity, not both"
        return None if raw["user"] == "anonymous" else PERSONAS[raw["user"]]
    if "identity" in raw:
        body = _keys(raw["identity"], IDENTITY_KEYS, f"{where}.identity")
        return Identity(
            subject=body["subject"],
            email=body.get("email"),
            groups=frozenset(body.get("groups", [])),
            amr=frozenset(body.get("amr", [])),
            claims=MappingProxyType(dict(body.get("claims", {}))),
        )
    raise AssertionError(f"{where}: a request needs user or identity")


def _context(raw: Any, default_host: str | None, where: str) -> AccessContext:
    body = _keys(raw, REQUEST_KEYS, where)
    device = UNKNOWN_DEVICE
    if "device" in body:
        spec = _keys(body["device"], {"managed", "tags"}, f"{where}.device")
        device = Device(managed=spec.get("managed", False), tags=frozenset(spec.get("tags", [])))
    host = body.get("host", default_host)
    assert host, f"{where}: no host (set one on the file or the request)"
    return AccessContext(
        host=host,
        path=body.get("path", "/"),
        identity=_identity(body, where),
        client_ip=ip_address(body["ip"]) if "ip" in body else None,
        country=body.get("country"),
        device=device,
    )


def _grants(raw: Any, now: datetime, where: str) -> GrantState | None:
    if raw is None:
        return NO_GRANTS
    if raw == "unavailable":
        return None
    body = _keys(raw, GRANT_KEYS, where)
    return GrantState(
        grant_expires_at=_instant(body["grant_expires_at"], now, where)
        if "grant_expires_at" in body
        else None,
        grant_id=body.get("grant_id"),
        justified_until=_instant(body["justified_until"], now, where)
        if "justified_until" in body
        else None,
        pending_request_id=body.get("pending_request_id"),
    )


def load_file(path: Path) -> list[GoldenCase]:
    """Every case of one golden file (read with the policy loader, so `NO` stays a string)."""
    located, errors = load_located(path.name, path.read_text(encoding="utf-8"))
    assert not errors, [str(e) for e in errors]
    assert located is not None
    doc = _keys(located.value, FILE_KEYS, path.name)
    cases: list[GoldenCase] = []
    names: set[str] = set()
    for i, raw in enumerate(doc["cases"]):
        case = _keys(raw, CASE_KEYS, f"{path.name}: cases[{i}]")
        where = f"{path.name}: {case['name']}"
        assert case["name"] not in names, f"{where}: duplicate case name"
        names.add(case["name"])
        now = _timestamp(case.get("now", doc.get("now")), f"{where}.now")
        expect = _keys(case["expect"], EXPECT_KEYS, f"{where}.expect")
        cases.append(
            GoldenCase(
                file=path,
                name=case["name"],
                context=_context(case["request"], doc.get("host"), f"{where}.request"),
                now=now,
                grants=_grants(case.get("grants"), now, f"{where}.grants"),
                effect=Effect(expect["effect"]),
                reasons=tuple(Reason(r) for r in expect["reasons"]),
                policy=expect.get("policy"),
                application=expect.get("application", "__any__"),
            )
        )
    return cases


@functools.cache
def policy_set_of(path: Path) -> PolicySet:
    """The compiled application document of a golden file."""
    located, _ = load_located(path.name, path.read_text(encoding="utf-8"))
    assert located is not None
    return compile_policy_set([Source(f"{path.name}#policy", located.value["policy"])])


def _all_cases() -> list[GoldenCase]:
    return [case for path in sorted(GOLDEN.glob("*.yaml")) for case in load_file(path)]


CASES = _all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file.stem}::{c.name}" for c in CASES])
def test_golden_case(case: GoldenCase) -> None:
    """The decision for the case is exactly the one written down."""
    decision = evaluate(policy_set_of(case.file), case.context, grants=case.grants, now=case.now)
    assert (decision.effect, decision.reasons, decision.policy) == (
        case.effect,
        case.reasons,
        case.policy,
    )
    if case.application != "__any__":
        assert decision.application == case.application


def test_golden_corpus_covers_every_effect() -> None:
    """The corpus has at least 25 cases and pins every effect at least once."""
    assert len(CASES) >= 25
    assert {c.effect for c in CASES} == set(Effect)

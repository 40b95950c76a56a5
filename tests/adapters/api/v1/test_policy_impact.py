"""POST /api/v1/policies/impact: a proposed set replayed on the service's own capture of
forward-auth decisions, or on posted decisions; admins only, bounded, and a set that does
not compile is a problem with every error in its place."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app.adapters.dev.issuer import DevIssuer
from app.adapters.observability.decision_log import decision_log
from app.bootstrap import build, prepare_process
from tests.adapters.api.v1.world import (
    ALICE,
    BOB,
    BOB_UNMANAGED,
    ERIN,
    MALLORY,
    POLICY_DIR,
    Api,
    Persona,
    problem_of,
    settings_for,
)
from tests.support.redis_server import RedisServer

IMPACT = "/api/v1/policies/impact"


def proposed_files(**changes: tuple[str, str]) -> list[dict[str, str]]:
    """The example policy set as files, with `old → new` text changes per file name."""
    files = []
    for path in sorted((POLICY_DIR / "apps").glob("*.yaml")):
        text = path.read_text()
        if path.stem.replace("-", "_") in changes:
            old, new = changes[path.stem.replace("-", "_")]
            assert old in text
            text = text.replace(old, new, 1)
        files.append({"path": f"apps/{path.name}", "text": text})
    return files


#: Grafana's SRE shortcut is for SRE leads on managed devices... from nowhere: nobody keeps it.
NO_SHORTCUT = proposed_files(grafana=("include: [{group: sre}]", "include: [{group: nobody}]"))


def with_capture(tmp_path: Path, server: RedisServer, capture: Path | None) -> Api:
    """The wired service, capturing decisions to `capture` (None: not at all)."""
    client = redis.Redis.from_url(server.url)
    try:
        client.flushdb()
    finally:
        client.close()
    extra = {} if capture is None else {"COUNTERSIGN_DECISION_CAPTURE": str(capture)}
    settings = settings_for(tmp_path, server.url, **extra)
    assert prepare_process(settings) is None
    issuer = DevIssuer.load(tmp_path, public_url=settings.server.public_url)
    return Api(settings=settings, app=build(settings), issuer=issuer, redis_url=server.url)


@pytest.fixture(name="captured")
def captured_fixture(tmp_path: Path, server: RedisServer) -> Iterator[Api]:
    """The service with a decision capture under the test's directory."""
    harness = with_capture(tmp_path, server, tmp_path / "decisions.jsonl")
    yield harness
    harness.loop.close()
    decision_log.configure(None, min_level=logging.INFO)


def check(api: Api, who: Persona, url: str) -> int:
    """One forward-auth check as nginx asks it; its status."""
    headers = {"X-Original-URL": url, "X-Original-Method": "GET"}
    response = api.get("/auth/nginx", who=who, headers=headers)
    return response.status_code


def test_the_capture_replays_who_would_lose_the_shortcut(captured: Api) -> None:
    """BOB (managed device) goes straight into Grafana twice, ALICE needs approval: without
    the SRE shortcut BOB loses (allow → approval), ALICE is unchanged."""
    assert check(captured, BOB, "https://grafana.example.com/d/1") == 200
    assert check(captured, BOB, "https://grafana.example.com/explore") == 200
    assert check(captured, ALICE, "https://grafana.example.com/d/1") != 200
    response = captured.post(IMPACT, who=ERIN, json={"files": NO_SHORTCUT})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["source"], body["decisions"], body["unchanged"]) == ("capture", 3, 1)
    (loss,) = body["losses"]
    assert loss["application"] == "grafana"
    assert loss["before"] == {
        "application": "grafana",
        "policy": "SRE on managed devices",
        "effect": "allow",
        "reason": "policy-allow",
        "access": "allow",
    }
    assert (loss["after"]["access"], loss["decisions"], loss["people"]) == ("approval", 2, 1)
    assert loss["examples"][0]["user"] == "bob@example.com"
    assert body["gains"] == []


def test_posted_decisions_are_replayed_instead(captured: Api) -> None:
    """Decisions in the body (log lines as they are) are what is replayed: MALLORY's wiki
    visit and BOB from a personal laptop; the capture is not read."""
    check(captured, BOB, "https://grafana.example.com/d/1")
    decisions = [
        {
            "host": "grafana.example.com",
            "path": "/d/1",
            "timestamp": "2026-01-05T10:00:00Z",
            "subject": "bob",
            "email": "bob@example.com",
            "groups": ["sre", "sre-leads"],
            "device_managed": True,
            "event": "decision_made",
            "latency_ms": 0.3,
        },
        {
            "host": "grafana.example.com",
            "path": "/",
            "timestamp": "2026-01-05T11:00:00+02:00",
            "subject": "bob",
            "email": "bob@example.com",
            "groups": ["sre", "sre-leads"],
            "device_managed": False,
        },
    ]
    response = captured.post(IMPACT, who=ERIN, json={"files": NO_SHORTCUT, "decisions": decisions})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["source"], body["decisions"], body["unchanged"]) == ("posted", 2, 1)
    assert [loss["decisions"] for loss in body["losses"]] == [1]


def test_a_set_that_does_not_compile_is_a_problem_listing_its_errors(captured: Api) -> None:
    """422 problem+json `invalid-policy`, each error with file, line, column and path."""
    files = proposed_files(wiki=("group:", "grup:"))
    response = captured.post(IMPACT, who=ERIN, json={"files": files})
    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["code"] == "invalid-policy"
    (error,) = problem["errors"]
    assert error["location"].startswith("apps/wiki.yaml:")
    assert error["type"] == "policy.unknown_selector"
    assert "grup" in problem["detail"]


def test_only_admins_may_ask(captured: Api) -> None:
    """BOB, an approver but no admin, is refused: records name people and where they went."""
    response = captured.post(IMPACT, who=BOB_UNMANAGED, json={"files": NO_SHORTCUT})
    assert response.status_code == 403
    assert problem_of(response)["code"] == "admin-only"


def test_without_a_capture_the_decisions_must_be_posted(
    tmp_path: Path, server: RedisServer
) -> None:
    """A service that captures nothing answers 409 when no decisions are posted."""
    api = with_capture(tmp_path, server, None)
    try:
        response = api.post(IMPACT, who=ERIN, json={"files": NO_SHORTCUT})
    finally:
        api.loop.close()
        decision_log.configure(None, min_level=logging.INFO)
    assert response.status_code == 409
    assert problem_of(response)["code"] == "no-recorded-decisions"


def test_bodies_are_bounded(captured: Api) -> None:
    """More than 100 files is invalid input; a body over 64 KiB is refused before parsing."""
    many = [{"path": f"apps/{n}.yaml", "text": ""} for n in range(101)]
    response = captured.post(IMPACT, who=ERIN, json={"files": many})
    assert response.status_code == 422
    assert problem_of(response)["code"] == "invalid-input"
    huge = [
        {"path": "apps/a.yaml", "text": "#" * 60_000},
        {"path": "apps/b.yaml", "text": "#" * 10_000},
    ]
    response = captured.post(IMPACT, who=ERIN, json={"files": huge})
    assert response.status_code == 413


def test_a_mallory_check_never_leaks_her_token_into_the_capture(captured: Api) -> None:
    """The capture holds MALLORY's decision but not the bearer token she sent."""
    token = captured.token(MALLORY)
    response = captured.get(
        "/auth/nginx",
        headers={
            "X-Original-URL": f"https://wiki.example.com/{token}",
            "X-Original-Method": "GET",
            "authorization": f"Bearer {token}",
        },
    )
    assert response.status_code in (200, 401, 403)
    decision_log.flush()
    captured_bytes = (Path(captured.settings.decisions.capture or "")).read_bytes()
    assert b"mallory@partner.example.net" in captured_bytes
    assert token.encode() not in captured_bytes

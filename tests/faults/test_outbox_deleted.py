"""The notification outbox stream is deleted under a running service (an operator's DEL, a
FLUSHDB on the wrong database): notifications resume for the next request."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from app.adapters.store.keys import OUTBOX_KEY
from tests.faults.conftest import Scenario
from tests.faults.harness import ALICE, BOB, MALLORY, start_service, until
from tests.support.receivers import HttpReceiver
from tests.support.redis_topologies import start_standalone

SECRET = "whsec-faults"
#: Longest acceptable wait for the notice of a request made after the stream was deleted.
RESUME_BOUND = 15.0


def test_notifications_resume_after_outbox_deleted(tmp_path: Path, scenario: Scenario) -> None:
    """ALICE's request is notified; DEL the outbox; MALLORY's request is notified too."""
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    config = tmp_path / "countersign.yaml"
    config.write_text(
        "notifications:\n"
        f"  - {{name: hook, kind: webhook, url: '{receiver.url}', secret: '{SECRET}'}}\n"
    )
    server = start_standalone(tmp_path / "redis")
    service = start_service(
        tmp_path / "countersign",
        redis_url=server.url,
        env={"COUNTERSIGN_CONFIG": str(config), "COUNTERSIGN_NOTIFY_RETRY_BASE": "200ms"},
    )
    resumed: float | None = None
    try:
        service.mint(ALICE, BOB, MALLORY)
        service.ask(ALICE)
        until(lambda: len(receiver.received) >= 1, timeout=RESUME_BOUND, what="the first notice")
        with redis.Redis.from_url(server.url) as client:
            assert client.delete(OUTBOX_KEY) == 1
        before = len(receiver.received)
        asked = time.monotonic()
        service.ask(MALLORY)
        try:
            until(
                lambda: len(receiver.received) > before,
                timeout=RESUME_BOUND,
                what="a notice after the outbox was deleted",
            )
            resumed = time.monotonic() - asked
        except AssertionError:
            resumed = None
    finally:
        service.stop()
        server.stop()
        receiver.stop()
    ok = resumed is not None
    scenario.record(
        "notice after DEL of the outbox: "
        + (
            f"delivered in {resumed:.2f} s"
            if resumed is not None
            else f"none in {RESUME_BOUND:.0f} s"
        ),
        ok=ok,
    )
    assert resumed is not None, "no notification after the outbox stream was deleted"

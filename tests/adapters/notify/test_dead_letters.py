"""Dead letters sent again: `countersign notify replay` queues a delivery that was given up on,
and the running notifier sends it once the receiver is back."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from app.adapters.notify import dead_letters
from app.adapters.notify.keys import DEAD_KEY
from app.cli import notify as notify_command
from tests.adapters.notify.harness import (
    FAST,
    SECRET,
    Outcomes,
    ask,
    running,
    scenario,
    webhook,
    with_attempts,
)
from tests.support.receivers import HttpReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until
from tests.support.workflow import World

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


def replay_cli(url: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="countersign")
    notify_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["notify", "replay", *argv])
    return notify_command.run_replay(args, environ={"COUNTERSIGN_REDIS_URL": url})


def test_a_dead_letter_is_sent_again_once_the_receiver_is_back(
    server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Down for every try: dead-lettered. Back up: a dry run lists it and changes nothing; a
    replay queues it, the notifier delivers it once, and the dead letter is gone."""
    receiver = HttpReceiver(secret=SECRET.encode(), status=500).start()
    outcomes = Outcomes()

    async def body(w: World) -> None:
        channels = [webhook(receiver.url, name="ops")]
        async with running(server.url, channels, options=with_attempts(FAST, 2), observer=outcomes):
            request = await ask(w)
            await until(lambda: outcomes.counts.get(("ops", "dead_lettered"), 0) == 1)
            receiver.status = 200
            letters = await dead_letters.read(w.client)
            assert [(d.channel, d.topic, d.request_id) for d in letters] == [
                ("ops", "request_submitted", request.id)
            ]

            assert await asyncio.to_thread(replay_cli, server.url, "--dry-run") == 0
            assert "would send again" in capsys.readouterr().out
            assert await w.client.xlen(DEAD_KEY) == 1
            assert receiver.received == []

            assert await asyncio.to_thread(replay_cli, server.url, "--channel", "ops") == 0
            assert f"queued again: {letters[0].id}" in capsys.readouterr().out
            await until(lambda: len(receiver.received) == 1)
            assert await w.client.xlen(DEAD_KEY) == 0
            assert await dead_letters.replay(w.client, letters[0], now=0) == "taken"
        body_sent = json.loads(receiver.received[0].body)
        assert (body_sent["type"], body_sent["request_id"]) == ("request_submitted", request.id)

    try:
        scenario(server.url, body)
    finally:
        receiver.stop()


def test_an_unknown_id_is_refused(server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    """A dead letter id that does not exist: exit 1, one line, nothing queued."""
    assert replay_cli(server.url, "1-0") == 1
    assert capsys.readouterr().err == "countersign: no dead letter 1-0\n"

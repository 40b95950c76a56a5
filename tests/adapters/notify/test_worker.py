"""The notifier against a real Redis and real receivers: what arrives, once, in order, and
what happens when a receiver is down, broken, or shared by two replicas."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from app.adapters.notify.keys import ATTEMPTS_KEY, DEAD_KEY, GROUP, RETRY_KEY
from app.adapters.observability.metrics import Metrics
from app.adapters.store.keys import OUTBOX_KEY
from app.core.approvals import RequestStatus
from tests.adapters.notify.harness import (
    FAST,
    SECRET,
    Outcomes,
    ask,
    mail,
    running,
    scenario,
    slack,
    webhook,
    with_attempts,
)
from tests.support.receivers import HttpReceiver, SmtpReceiver
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.waiting import until
from tests.support.workflow import BOB, CAROL, CTO, DAVE, ROOT, World, person

NASTY = "INC-7 <!channel> <script>alert(1)</script>\nsecond line & <https://x.example|y>"

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """A webhook receiver that accepts only signed deliveries."""
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """An aiosmtpd server."""
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


def types_for(receiver: HttpReceiver, request_id: str) -> list[str]:
    """The event types a receiver got for one request, in arrival order."""
    return [b["type"] for b in receiver.bodies() if b["request_id"] == request_id]


def test_a_submit_reaches_the_webhook_and_the_approvers_mailbox(
    server: RedisServer, hook: HttpReceiver, smtp: SmtpReceiver
) -> None:
    """ALICE asks for Grafana: a signed webhook and an e-mail to cto@example.com arrive."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url), mail(smtp.port)]):
            request = await ask(w)
            await until(lambda: len(hook.received) == 1 and len(smtp.messages) == 1)
        (payload,) = hook.bodies()
        assert payload["type"] == "request_submitted"
        assert payload["request_id"] == request.id
        assert payload["justification"] == "INC-42 dashboards are blank"
        assert (payload["client_ip"], payload["country"]) == ("192.0.2.10", "FR")
        assert payload["device"] == {"managed": False, "id": "d-7", "tags": ["disk-encrypted"]}
        assert payload["requested_duration"] == 7200
        assert payload["links"]["request"] == f"https://countersign.example.com/inbox/{request.id}"
        ((envelope, message),) = smtp.messages
        assert envelope.rcpt_tos == ["cto@example.com"]
        text = message.get_body(("plain",))
        assert text is not None
        assert f"/inbox/{request.id}" in text.get_content()

    scenario(server.url, body)


def test_the_requester_hears_the_approval(
    server: RedisServer, hook: HttpReceiver, smtp: SmtpReceiver
) -> None:
    """BOB approves: ALICE gets an e-mail, and the webhook gets the outcome after the submit."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url), mail(smtp.port)]):
            request = await ask(w)
            await w.service.approve(person(BOB), request.id, duration=None, comment="go ahead")
            await until(lambda: len(hook.received) == 2 and len(smtp.messages) == 2)
        assert types_for(hook, request.id) == ["request_submitted", "request_approved"]
        envelope, message = smtp.messages[1]
        assert envelope.rcpt_tos == ["alice@example.com"]
        assert "was approved" in message["Subject"]
        assert hook.bodies()[1]["decided_by"] == "bob@example.com"
        assert hook.bodies()[1]["comment"] == "go ahead"

    scenario(server.url, body)


def test_the_requester_hears_a_revocation(server: RedisServer, smtp: SmtpReceiver) -> None:
    """BOB revokes ALICE's grant with a reason; she is told, reason included."""

    async def body(w: World) -> None:
        async with running(server.url, [mail(smtp.port)]):
            request = await ask(w)
            approved = await w.service.approve(person(BOB), request.id, duration=None, comment=None)
            assert approved.grant_id is not None
            await w.service.revoke(person(BOB), approved.grant_id, reason="incident closed")
            await until(lambda: len(smtp.messages) == 3)
        envelope, message = smtp.messages[2]
        assert envelope.rcpt_tos == ["alice@example.com"]
        assert "access to Grafana was revoked" in message["Subject"]
        text = message.get_body(("plain",))
        assert text is not None
        assert "Comment: incident closed" in text.get_content()

    scenario(server.url, body)


def test_the_requester_hears_that_nobody_decided(server: RedisServer, smtp: SmtpReceiver) -> None:
    """A request left pending past its TTL expires, and ALICE is told."""

    async def body(w: World) -> None:
        async with running(server.url, [mail(smtp.port)]):
            request = await ask(w)
            w.clock.now = request.expires_at
            assert await w.service.sweep() == (1, 0)
            await until(lambda: len(smtp.messages) == 2)
        envelope, message = smtp.messages[1]
        assert envelope.rcpt_tos == ["alice@example.com"]
        assert "expired without a decision" in message["Subject"]

    scenario(server.url, body)


def test_a_receiver_down_for_a_while_gets_every_message_once_in_order(server: RedisServer) -> None:
    """While the receiver is down, messages wait; once it is back each arrives once, and a
    request's outcome never overtakes its submit."""
    receiver = HttpReceiver(secret=SECRET.encode())  # not listening yet

    async def body(w: World) -> None:
        options = with_attempts(FAST, 50)
        async with running(server.url, [webhook(receiver.url)], options=options):
            first = await ask(w)
            second = await ask(w, CAROL)
            await w.service.approve(person(BOB), first.id, duration=None, comment=None)
            await w.service.deny(person(BOB), second.id, comment="not today")
            # Wait until the notifier has tried and scheduled retries for the dead receiver.
            await until(lambda: w.client.zcard(RETRY_KEY))
            receiver.start()
            await until(lambda: len(receiver.received) == 4)
            await asyncio.sleep(0.3)  # anything sent twice would have arrived by now
            assert types_for(receiver, first.id) == ["request_submitted", "request_approved"]
            assert types_for(receiver, second.id) == ["request_submitted", "request_denied"]
            ids = [b["id"] for b in receiver.bodies()]
            assert len(set(ids)) == len(ids) == 4
            assert await w.client.zcard(RETRY_KEY) == 0

    try:
        scenario(server.url, body)
    finally:
        receiver.stop()


def test_a_receiver_failing_forever_is_dead_lettered_and_holds_nothing_up(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """Answering 500 forever: after N tries each message goes to the dead letters, while asking
    and approving go on at full speed and a healthy channel gets every message."""
    broken = HttpReceiver(status=500).start()
    outcomes = Outcomes()

    async def body(w: World) -> None:
        options = with_attempts(FAST, 3)
        channels = [webhook(broken.url, name="broken"), webhook(hook.url)]
        async with running(server.url, channels, options=options, observer=outcomes):
            started = time.monotonic()
            request = await ask(w)
            done = await w.service.approve(person(BOB), request.id, duration=None, comment=None)
            assert time.monotonic() - started < 1.0
            assert done.status is RequestStatus.APPROVED
            await until(lambda: len(hook.received) == 2)
            await until(lambda: outcomes.counts.get(("broken", "dead_lettered"), 0) == 2)
            dead = [json.loads(f[b"dead"]) for _, f in await w.client.xrange(DEAD_KEY)]
            assert [(d["channel"], d["topic"], d["attempts"]) for d in dead] == [
                ("broken", "request_submitted", 3),
                ("broken", "request_approved", 3),
            ]
            assert dead[0]["problem"] == "HTTP 500"
            assert broken.tries == 6
            assert await w.client.zcard(RETRY_KEY) == 0
            assert await w.client.hlen(ATTEMPTS_KEY) == 0
        assert types_for(hook, request.id) == ["request_submitted", "request_approved"]
        assert outcomes.counts[("broken", "failed")] == 4
        assert outcomes.counts[("hook", "sent")] == 2

    try:
        scenario(server.url, body)
    finally:
        broken.stop()


def test_a_slow_channel_does_not_hold_up_another(server: RedisServer, hook: HttpReceiver) -> None:
    """A channel that keeps failing is retried on its own; the others are told without waiting
    for its retries to end (a thousand tries at up to 0.2 s apart: minutes, against a wait of
    at most ten seconds here)."""
    broken = HttpReceiver(status=503).start()

    async def body(w: World) -> None:
        channels = [webhook(broken.url, name="broken"), webhook(hook.url)]
        async with running(server.url, channels, options=with_attempts(FAST, 1000)):
            await ask(w)
            await until(lambda: len(hook.received) == 1, "the working channel told")
            assert broken.tries >= 1

    try:
        scenario(server.url, body)
    finally:
        broken.stop()


def test_two_replicas_deliver_each_message_once(server: RedisServer, hook: HttpReceiver) -> None:
    """Two notifiers on one outbox: every message arrives exactly once."""

    async def body(w: World) -> None:
        channels = [webhook(hook.url)]
        async with (
            running(server.url, channels, consumer="replica-a"),
            running(server.url, channels, consumer="replica-b"),
        ):
            requests = [await ask(w, who) for who in (CAROL, DAVE, CTO, ROOT)]
            for request in requests[:2]:
                await w.service.approve(person(BOB), request.id, duration=None, comment=None)
            await until(lambda: len(hook.received) == 6)
            await asyncio.sleep(0.3)
        ids = [b["id"] for b in hook.bodies()]
        assert len(ids) == len(set(ids)) == 6

    scenario(server.url, body)


def test_an_entry_read_by_a_dead_replica_is_taken_over(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """A replica read an entry and died before queueing it: after the idle time, another
    replica claims it and sends it."""

    async def body(w: World) -> None:
        await w.client.xgroup_create(OUTBOX_KEY, GROUP, id="$", mkstream=True)
        request = await ask(w)
        taken = await w.client.xreadgroup(GROUP, "dead-replica", {OUTBOX_KEY: ">"}, count=10)
        assert len(taken[0][1]) == 2  # request_submitted and justification_recorded
        options = replace(FAST, claim_idle=0.3)
        async with running(server.url, [webhook(hook.url)], options=options):
            await until(lambda: len(hook.received) == 1, within=5.0)
            pending = await w.client.xpending(OUTBOX_KEY, GROUP)
            assert pending["pending"] == 0
        assert types_for(hook, request.id) == ["request_submitted"]

    scenario(server.url, body)


def test_a_justification_arrives_escaped(
    server: RedisServer, hook: HttpReceiver, smtp: SmtpReceiver
) -> None:
    """`<!channel>`, `<script>` and newlines: Slack gets entities, e-mail HTML escaped text, and
    the webhook JSON carries the text exactly as typed."""
    slack_hook = HttpReceiver().start()

    async def body(w: World) -> None:
        channels = [webhook(hook.url), slack(slack_hook.url), mail(smtp.port)]
        async with running(server.url, channels):
            await ask(w, reason=NASTY)
            await until(
                lambda: len(hook.received) == len(slack_hook.received) == len(smtp.messages) == 1
            )
        assert hook.bodies()[0]["justification"] == NASTY
        slack_body = slack_hook.received[0].body.decode()
        assert "<!channel>" not in slack_body
        assert "<script>" not in slack_body
        assert "&lt;!channel&gt;" in slack_body
        assert (
            ">second line &amp; &lt;https://x.example|y&gt;"
            in json.loads(slack_body)["blocks"][2]["text"]["text"]
        )
        html = smtp.messages[0][1].get_body(("html",))
        assert html is not None
        assert "<script>" not in html.get_content()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>second line" in html.get_content()

    try:
        scenario(server.url, body)
    finally:
        slack_hook.stop()


def test_approvers_are_warned_once_before_a_request_expires(
    server: RedisServer, hook: HttpReceiver
) -> None:
    """Fifteen minutes before the end, one warning, however many replicas look."""
    options = replace(FAST, expiry_warning=timedelta(minutes=15))
    channels = [webhook(hook.url)]

    async def body(w: World) -> None:
        async with running(server.url, channels, options=options, clock=w.clock) as first:
            request = await ask(w)
            assert await first.warn_expiring() == 0
            w.clock.now = request.expires_at - timedelta(minutes=10)
            async with running(server.url, channels, options=options, clock=w.clock) as second:
                # Both replicas' background loops look too, on their own schedule: whichever
                # caller comes first adds the warning, and every caller after it adds nothing.
                added = [
                    await first.warn_expiring(),
                    await second.warn_expiring(),
                    await first.warn_expiring(),
                ]
                assert added[0] in (0, 1)
                assert added[1:] == [0, 0]
                await until(lambda: len(hook.received) == 2)
        # The workers have stopped: no caller is left that could add another warning.
        warnings = [
            fields
            for _, fields in await w.client.xrange(OUTBOX_KEY)
            if b"request_expiring" in fields.get(b"notice", b"")
        ]
        assert len(warnings) == 1
        assert types_for(hook, request.id) == ["request_submitted", "request_expiring"]

    scenario(server.url, body)


def test_deliveries_are_counted_per_channel(server: RedisServer, hook: HttpReceiver) -> None:
    """/metrics shows sent, failed and dead-lettered deliveries by channel."""
    broken = HttpReceiver(status=500).start()
    metrics = Metrics()

    async def body(w: World) -> None:
        channels = [webhook(broken.url, name="broken"), webhook(hook.url)]
        options = with_attempts(FAST, 2)
        async with running(server.url, channels, options=options, observer=metrics):
            await ask(w)
            await until(lambda: b'outcome="dead_lettered"} 1.0' in metrics.render())
        text = metrics.render().decode()
        assert 'countersign_notifications_total{channel="hook",outcome="sent"} 1.0' in text
        assert 'countersign_notifications_total{channel="broken",outcome="failed"} 1.0' in text
        assert (
            'countersign_notifications_total{channel="broken",outcome="dead_lettered"} 1.0' in text
        )

    try:
        scenario(server.url, body)
    finally:
        broken.stop()


def test_a_clean_stop_leaves_the_consumer_group(server: RedisServer, hook: HttpReceiver) -> None:
    """A stopped replica holding nothing removes its name; a running one stays listed."""

    async def body(w: World) -> None:
        async with running(server.url, [webhook(hook.url)], consumer="staying"):
            async with running(server.url, [webhook(hook.url)], consumer="leaving"):
                await ask(w)
                await until(lambda: len(hook.received) == 1)
            names = {c["name"] for c in await w.client.xinfo_consumers(OUTBOX_KEY, GROUP)}
            assert b"leaving" not in names
            assert b"staying" in names

    scenario(server.url, body)

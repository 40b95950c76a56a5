"""The request pages show escalation: the requester's status page says when the request will
escalate and, once it has, that it did; the fallback approver (the CTO) then finds it in the
inbox and its review page says it escalated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.core.policy.compile import compile_policy_set
from app.services.emergency import EmergencyService
from app.services.policy_files import load_sources
from tests.adapters.ui import site as pages
from tests.adapters.ui.site import ALICE, Person, Site, Visit, ask_for_id

pytestmark = pytest.mark.redis

POLICIES = Path(__file__).resolve().parents[1] / "api" / "v1" / "emergency_policies"
CTO = Person("cto@example.com", ("leadership",))
DB_RD = "https://db-console.example.com/"


@pytest.fixture
def site(tmp_path: Path, ui_redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The service over the escalation and break-glass policy, on an empty Redis."""
    monkeypatch.setattr(pages, "POLICY_DIR", POLICIES)
    return Site(tmp_path, ui_redis_url)


async def sweep_later(redis_url: str, by: timedelta) -> int:
    """One replica's escalation sweep, run `by` from now; how many requests it escalated."""
    client = Redis.from_url(redis_url)
    try:
        policies = compile_policy_set(load_sources(POLICIES))
        store = RedisWorkflowStore(client, retention=timedelta(days=30))
        later = datetime.now(UTC) + by
        service = EmergencyService(policies=lambda: policies, store=store, clock=lambda: later)
        escalated, _ = await service.sweep()
        return escalated
    finally:
        await client.aclose()


def test_the_status_page_shows_the_escalation_before_and_after(
    site: Site, ui_redis_url: str
) -> None:
    """Pending: "Escalation ... after 30 minutes"; after the sweep: "Escalated", and the CTO,
    who could not see it before, finds it in the inbox with the same line on the review page."""

    async def steps(visit: Visit) -> None:
        alice, cto = visit.as_(ALICE), visit.as_(CTO)
        request_id = await ask_for_id(
            alice, app="db-console", rd=DB_RD, justification="INC-2041 the primary is down"
        )
        status = await alice.get(f"/request/{request_id}")
        assert 'id="escalation"' in status.text
        assert "30 minutes" in status.text
        hidden = await cto.get(f"/inbox/{request_id}")
        assert hidden.status_code == 404
        assert await sweep_later(ui_redis_url, timedelta(minutes=31)) == 1
        status = await alice.get(f"/request/{request_id}")
        assert 'id="escalated"' in status.text
        assert 'id="escalation"' not in status.text
        inbox = await cto.get("/inbox")
        assert request_id in inbox.text
        detail = await cto.get(f"/inbox/{request_id}")
        assert detail.status_code == 200
        assert 'id="escalated"' in detail.text

    site.run(steps)

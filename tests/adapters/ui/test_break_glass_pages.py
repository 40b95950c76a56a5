"""Break-glass on the pages: someone on call breaks the glass from the form and goes on to the
application; someone else is refused on the page; an approver judges the use on the reviews
page, and "not justified" takes it off the list and ends the access."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.adapters.ui import site as pages
from tests.adapters.ui.site import ALICE, CAROL, Person, Site, Visit, csrf_of, post_form

pytestmark = pytest.mark.redis

POLICIES = Path(__file__).resolve().parents[1] / "api" / "v1" / "emergency_policies"
ONCALL = Person("olga@example.com", ("engineering", "oncall"))
DB_RD = "https://db-console.example.com/tables"
REASON = "INC-4711 the primary is down"


@pytest.fixture
def site(tmp_path: Path, ui_redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The service over the escalation and break-glass policy, on an empty Redis."""
    monkeypatch.setattr(pages, "POLICY_DIR", POLICIES)
    return Site(tmp_path, ui_redis_url)


async def break_glass(client: httpx.AsyncClient) -> httpx.Response:
    """Open the break-glass form for the database console and submit it."""
    page = await client.get(f"/break-glass?app=db-console&rd={quote(DB_RD, safe='')}")
    assert page.status_code == 200, page.text[:2000]
    fields = {"csrf": csrf_of(page), "app": "db-console", "rd": DB_RD, "justification": REASON}
    return await post_form(client, "/break-glass", fields)


def test_on_call_breaks_the_glass_and_goes_on_to_the_application(site: Site) -> None:
    """303 to the page they wanted; the grant shows on My access."""

    async def steps(visit: Visit) -> None:
        olga = visit.as_(ONCALL)
        answer = await break_glass(olga)
        assert answer.status_code == 303, answer.text[:2000]
        assert answer.headers["location"] == DB_RD
        mine = await olga.get("/access")
        assert "DB console" in mine.text

    site.run(steps)


def test_someone_not_named_is_refused_on_the_page(site: Site) -> None:
    """ALICE is not on call: 403 with the reason, and no access."""

    async def steps(visit: Visit) -> None:
        answer = await break_glass(visit.as_(ALICE))
        assert answer.status_code == 403
        assert "does not let you break the glass" in answer.text

    site.run(steps)


def test_an_approver_judges_a_use_not_justified(site: Site) -> None:
    """CAROL sees the use with its reason, judges it not justified, and it leaves the list."""

    async def steps(visit: Visit) -> None:
        olga, carol = visit.as_(ONCALL), visit.as_(CAROL)
        assert (await break_glass(olga)).status_code == 303
        own = await olga.get("/break-glass/reviews")
        assert 'id="no-reviews"' in own.text  # nobody reviews their own use
        inbox = await carol.get("/inbox")  # reached from the menu of every page
        assert 'href="/break-glass/reviews"' in inbox.text
        listing = await carol.get("/break-glass/reviews")
        assert 'aria-current="page">Break-glass reviews<' in listing.text
        assert REASON in listing.text
        assert 'id="no-reviews"' not in listing.text
        action = listing.text.split('action="', 2)[1].split('"', 1)[0]
        judged = await post_form(
            carol,
            action.replace("http://auth.example.com:8000", ""),
            {"csrf": csrf_of(listing), "verdict": "not-justified", "comment": "no incident"},
        )
        assert judged.status_code == 303, judged.text[:2000]
        after = await carol.get("/break-glass/reviews")
        assert 'id="no-reviews"' in after.text

    site.run(steps)

"""My access: active grants with time left and "end now"; approvers revoke for their apps."""

from __future__ import annotations

import re

import httpx

from tests.adapters.ui.site import (
    ALICE,
    BOB,
    CAROL,
    ERIN,
    Site,
    Visit,
    ask_for_id,
    csrf_of,
    post_form,
    review,
)


async def approved_grant(visit: Visit, duration: str = "30m") -> str:
    """ALICE asks, BOB approves; returns the request id."""
    request_id = await ask_for_id(visit.as_(ALICE))
    answer = await review(visit.as_(BOB), request_id, "approve", duration=duration)
    assert answer.status_code == 303
    return request_id


def grant_ids(page: httpx.Response, section: str) -> list[str]:
    """Grant ids in one list of the access page (`my-grants` or `other-grants`)."""
    match = re.search(rf'<ul class="cards" id="{section}">(.*?)</ul>', page.text, re.S)
    if match is None:
        return []
    return re.findall(r'action="/access/(grt_[A-Za-z0-9_-]+)/end"', match.group(1))


def test_home_goes_to_my_access(site: Site) -> None:
    """/ is where the dev login lands without rd: it leads to My access."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get("/")

    answer = site.run(steps)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/access"


def test_active_grant_is_listed_with_time_left(site: Site) -> None:
    """After approval ALICE's access page lists Grafana, its end time and an End now button."""

    async def steps(visit: Visit) -> httpx.Response:
        await approved_grant(visit)
        return await visit.as_(ALICE).get("/access")

    page = site.run(steps)
    assert len(grant_ids(page, "my-grants")) == 1
    assert re.search(
        r"Until <time [^>]*>\d\d:\d\d UTC</time> · (29|30) min( [0-9]+ s)? left", page.text
    )
    assert "End now" in page.text
    assert 'id="other-grants"' not in page.text


def test_pending_request_is_listed_as_waiting(site: Site) -> None:
    """An open request shows under "Waiting for approval" with a link to its status page."""

    async def steps(visit: Visit) -> tuple[str, httpx.Response]:
        request_id = await ask_for_id(visit.as_(ALICE))
        return request_id, await visit.as_(ALICE).get("/access")

    request_id, page = site.run(steps)
    assert "Waiting for approval" in page.text
    assert f'href="/request/{request_id}"' in page.text


def test_end_now_ends_the_grant(site: Site) -> None:
    """ALICE ends her grant early: it leaves the list and her status page says it ended."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        request_id = await approved_grant(visit)
        alice = visit.as_(ALICE)
        page = await alice.get("/access")
        (grant_id,) = grant_ids(page, "my-grants")
        answer = await post_form(alice, f"/access/{grant_id}/end", {"csrf": csrf_of(page)})
        assert answer.status_code == 303
        return await alice.get("/access"), await alice.get(f"/request/{request_id}")

    after, status = site.run(steps)
    assert grant_ids(after, "my-grants") == []
    assert 'data-state="ended"' in status.text
    assert "was ended by alice@example.com" in status.text


def test_approver_sees_and_revokes_grants_of_their_application(site: Site) -> None:
    """BOB (SRE lead) sees ALICE's Grafana grant and revokes it with a reason."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        await approved_grant(visit)
        bob = visit.as_(BOB)
        page = await bob.get("/access")
        (grant_id,) = grant_ids(page, "other-grants")
        fields = {"csrf": csrf_of(page), "reason": "incident closed"}
        answer = await post_form(bob, f"/access/{grant_id}/end", fields)
        assert answer.status_code == 303
        return page, await visit.as_(ALICE).get("/access")

    bobs, alices = site.run(steps)
    assert "alice@example.com · Grafana" in bobs.text
    assert grant_ids(alices, "my-grants") == []


def test_admin_sees_every_active_grant(site: Site) -> None:
    """ERIN of countersign-admins sees ALICE's grant though she approves nothing."""

    async def steps(visit: Visit) -> httpx.Response:
        await approved_grant(visit)
        return await visit.as_(ERIN).get("/access")

    assert len(grant_ids(site.run(steps), "other-grants")) == 1


def test_others_cannot_end_a_grant(site: Site) -> None:
    """CAROL, no approver of Grafana, cannot see nor end ALICE's grant: 404."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        await approved_grant(visit)
        alices = await visit.as_(ALICE).get("/access")
        (grant_id,) = grant_ids(alices, "my-grants")
        carol = visit.as_(CAROL)
        carols = await carol.get("/access")
        page = await carol.get("/request?app=grafana")
        answer = await post_form(carol, f"/access/{grant_id}/end", {"csrf": csrf_of(page)})
        return carols, answer

    carols, answer = site.run(steps)
    assert answer.status_code == 404
    assert "alice@example.com" not in carols.text

"""The approver's pages: the inbox, the detail of a request, approving and denying."""

from __future__ import annotations

import re

import httpx

from tests.adapters.ui.site import (
    ALICE,
    BOB,
    BOB_ON_LAPTOP,
    CAROL,
    DAVE,
    Site,
    Visit,
    ask_for_id,
    csrf_of,
    post_form,
    request_page,
    review,
)


def inbox_ids(page: httpx.Response) -> list[str]:
    """The request ids listed in the inbox, in order."""
    return re.findall(r'href="/inbox/(req_[A-Za-z0-9_-]+)"', page.text)


def test_inbox_lists_what_bob_may_review_newest_first(site: Site) -> None:
    """ALICE then DAVE ask for Grafana: BOB's inbox shows DAVE's first, then ALICE's."""

    async def steps(visit: Visit) -> tuple[str, str, httpx.Response]:
        first = await ask_for_id(visit.as_(ALICE))
        second = await ask_for_id(visit.as_(DAVE))
        return first, second, await visit.as_(BOB).get("/inbox")

    first, second, page = site.run(steps)
    assert page.status_code == 200
    assert inbox_ids(page) == [second, first]
    assert "alice@example.com asks for Grafana" in page.text
    assert " left" in page.text
    assert " ago" in page.text


def test_inbox_never_lists_ones_own_request(site: Site) -> None:
    """BOB on his laptop asks for Grafana; his inbox stays empty though he is an approver."""

    async def steps(visit: Visit) -> httpx.Response:
        await ask_for_id(visit.as_(BOB_ON_LAPTOP))
        return await visit.as_(BOB).get("/inbox")

    page = site.run(steps)
    assert inbox_ids(page) == []
    assert "Nothing is waiting for you" in page.text


def test_inbox_of_someone_who_approves_nothing_says_so(site: Site) -> None:
    """ALICE approves nothing: her inbox explains why it is empty."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get("/inbox")

    assert "not an approver" in site.run(steps).text


def test_detail_page_shows_what_the_approver_needs(site: Site) -> None:
    """Requester, app, prompt and reason, IP, country, device, browser and the duration asked."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(ALICE), duration="2h")
        return await visit.as_(BOB).get(f"/inbox/{request_id}")

    page = site.run(steps)
    assert page.status_code == 200
    for expected in (
        "alice@example.com asks for Grafana",
        "Ticket or incident?",
        "INC-2041: dashboards for the outage",
        "203.0.113.7",
        "<dd>FR</dd>",
        "managed device",
        "PageTest/1.0",
        "<dd>2 hours</dd>",
        "No reviews yet.",
    ):
        assert expected in page.text
    assert 'id="approve-form"' in page.text
    assert '<option value="2h" selected>' in page.text
    assert 'id="deny-form"' in page.text


def test_own_request_offers_no_review_form(site: Site) -> None:
    """BOB opening his own request sees it, but no approve or deny form."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(BOB_ON_LAPTOP))
        return await visit.as_(BOB).get(f"/inbox/{request_id}")

    page = site.run(steps)
    assert page.status_code == 200
    assert 'id="approve-form"' not in page.text
    assert 'id="own-request"' in page.text


def test_self_approval_posted_anyway_is_refused(site: Site) -> None:
    """A hand-made approve post for one's own request is 403 and changes nothing."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        bob = visit.as_(BOB)
        request_id = await ask_for_id(visit.as_(BOB_ON_LAPTOP))
        own_status = await bob.get(f"/request/{request_id}")
        fields = {"csrf": csrf_of(own_status), "duration": "1h"}
        answer = await post_form(bob, f"/inbox/{request_id}/approve", fields)
        return answer, await bob.get(f"/request/{request_id}/status.json")

    answer, status = site.run(steps)
    assert answer.status_code == 403
    assert "Nobody can review their own request." in answer.text
    assert status.json()["state"] == "pending"


def test_approval_shows_on_the_requesters_status_page(site: Site) -> None:
    """BOB approves for 30 minutes: ALICE's page says approved until a time, and offers rd."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        answer = await review(visit.as_(BOB), request_id, "approve", duration="30m", comment="ok")
        status = await alice.get(f"/request/{request_id}?rd=https://grafana.example.com/")
        return answer, status, await alice.get(f"/request/{request_id}/status.json")

    answer, status, polled = site.run(steps)
    assert answer.status_code == 303
    assert 'data-state="approved"' in status.text
    assert re.search(r"Approved until <time [^>]*>\d\d:\d\d UTC</time>", status.text)
    assert 'href="https://grafana.example.com/" id="continue"' in status.text
    assert polled.json()["state"] == "approved"


def test_approved_request_shows_the_review_to_the_approver(site: Site) -> None:
    """After approving, BOB's detail page lists his review and offers no form."""

    async def steps(visit: Visit) -> httpx.Response:
        bob = visit.as_(BOB)
        request_id = await ask_for_id(visit.as_(ALICE))
        answer = await review(bob, request_id, "approve", duration="15m", comment="go ahead")
        return await bob.get(answer.headers["location"])

    page = site.run(steps)
    assert "Approved by bob@example.com" in page.text
    assert "for 15 minutes" in page.text
    assert "go ahead" in page.text
    assert 'id="approve-form"' not in page.text


def test_denial_comment_is_shown_to_the_requester(site: Site) -> None:
    """BOB denies with a comment; ALICE's status page shows it."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        answer = await review(visit.as_(BOB), request_id, "deny", comment="Use the read-only board")
        assert answer.status_code == 303
        return await alice.get(f"/request/{request_id}")

    page = site.run(steps)
    assert 'data-state="denied"' in page.text
    assert "Denied by bob@example.com" in page.text
    assert "Use the read-only board" in page.text
    assert "Ask again" in page.text


def test_deny_without_a_comment_is_refused(site: Site) -> None:
    """A denial must say why: without a comment the form comes back (422)."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(ALICE))
        return await review(visit.as_(BOB), request_id, "deny", comment="  ")

    page = site.run(steps)
    assert page.status_code == 422
    assert "Say why you deny" in page.text


def test_approval_longer_than_the_maximum_is_refused(site: Site) -> None:
    """A forged 1-day approval on an 8-hour policy is 422 and the request stays pending."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(ALICE))
        return await review(visit.as_(BOB), request_id, "approve", duration="1d")

    page = site.run(steps)
    assert page.status_code == 422
    assert "longer than the policy allows" in page.text
    assert 'id="approve-form"' in page.text


def test_someone_elses_request_is_not_found(site: Site) -> None:
    """CAROL approves nothing on Grafana: ALICE's request is a 404 on every page, not a 403."""

    async def steps(visit: Visit) -> list[int]:
        request_id = await ask_for_id(visit.as_(ALICE))
        carol = visit.as_(CAROL)
        statuses = [
            (await carol.get(path)).status_code
            for path in (
                f"/inbox/{request_id}",
                f"/request/{request_id}",
                f"/request/{request_id}/status.json",
            )
        ]
        own_page = await carol.get(request_page())
        fields = {"csrf": csrf_of(own_page), "duration": "1h"}
        statuses.append(
            (await post_form(carol, f"/inbox/{request_id}/approve", fields)).status_code
        )
        return statuses

    assert site.run(steps) == [404, 404, 404, 404]


def test_approver_opening_the_status_link_lands_on_the_review_page(site: Site) -> None:
    """A /request/<id> link opened by BOB (not the requester) goes to /inbox/<id>."""

    async def steps(visit: Visit) -> tuple[str, httpx.Response]:
        request_id = await ask_for_id(visit.as_(ALICE))
        return request_id, await visit.as_(BOB).get(f"/request/{request_id}")

    request_id, answer = site.run(steps)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/inbox/{request_id}"

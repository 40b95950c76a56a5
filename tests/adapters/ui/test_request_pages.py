"""The requester's pages: the request form, submitting it, the status page and withdrawing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from tests.adapters.ui.site import (
    ALICE,
    BOB,
    GRAFANA_RD,
    MALLORY,
    PUBLIC_URL,
    Site,
    Visit,
    ask,
    ask_for_id,
    csrf_of,
    post_form,
    request_id_in,
    request_page,
    review,
)


def test_not_signed_in_is_sent_to_sign_in_and_back(site: Site) -> None:
    """Without a session the request page redirects to /login with itself as rd."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.client().get(request_page())

    answer = site.run(steps)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(f"{PUBLIC_URL}/login?rd=")
    back = parse_qs(urlsplit(location).query)["rd"][0]
    assert back == PUBLIC_URL + request_page()


def test_a_token_that_does_not_verify_is_sent_to_sign_in(site: Site) -> None:
    """A forged or expired session cookie counts as not signed in."""

    async def steps(visit: Visit) -> httpx.Response:
        forged = visit.client({"cookie": "countersign_session=eyJhbGciOiJub25lIn0.e30."})
        return await forged.get("/inbox")

    answer = site.run(steps)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{PUBLIC_URL}/login?rd=")


def test_request_page_shows_prompt_durations_signals_and_approvers(site: Site) -> None:
    """ALICE sees the prompt, durations up to 8 hours, her own signals and who approves."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page())

    page = site.run(steps)
    assert page.status_code == 200
    text = page.text
    assert "Ticket or incident?" in text
    durations = re.findall(r'<option value="([0-9]+[smhd])"', text)
    assert durations == ["15m", "30m", "1h", "2h", "4h", "8h"]
    assert '<option value="1h" selected>' in text
    assert "203.0.113.7" in text
    assert "<dd>FR</dd>" in text
    assert "managed device" in text
    assert "PageTest/1.0" in text
    assert "members of the group sre-leads" in text
    assert "cto@example.com" in text
    assert f'name="rd" value="{GRAFANA_RD.replace("&", "&amp;")}"' in text


def test_submitting_creates_a_pending_request(site: Site) -> None:
    """The post answers 303 to the request's status page, which says it is pending."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        answer = await ask(alice)
        return answer, await alice.get(answer.headers["location"])

    answer, status = site.run(steps)
    assert answer.status_code == 303
    assert f"?rd={quote(GRAFANA_RD, safe='')}" in answer.headers["location"]
    assert status.status_code == 200
    assert 'data-state="pending"' in status.text
    assert "Waiting for approval" in status.text
    assert "INC-2041: dashboards for the outage" in status.text


def test_asking_again_leads_to_the_open_request(site: Site) -> None:
    """With a request open, the request page sends ALICE to its status page."""

    async def steps(visit: Visit) -> tuple[str, httpx.Response]:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        return request_id, await alice.get(request_page())

    request_id, again = site.run(steps)
    assert again.status_code == 303
    assert request_id_in(again.headers["location"]) == request_id


def test_short_justification_is_refused_and_the_text_kept(site: Site) -> None:
    """A reason under min_length gets the form back (422) with the message and her text."""

    async def steps(visit: Visit) -> httpx.Response:
        return await ask(visit.as_(ALICE), justification="short")

    page = site.run(steps)
    assert page.status_code == 422
    assert "The reason is too short: at least 8 characters." in page.text
    assert ">short</textarea>" in page.text


def test_duration_above_the_policy_maximum_is_refused(site: Site) -> None:
    """A forged duration of one day on an 8-hour policy is refused with the form."""

    async def steps(visit: Visit) -> httpx.Response:
        return await ask(visit.as_(ALICE), duration="1d")

    page = site.run(steps)
    assert page.status_code == 422
    assert "longer than the policy allows" in page.text


def test_redirect_to_another_site_is_dropped(site: Site) -> None:
    """An rd off the protected hosts is not kept in the form nor in the status page link."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        page = await alice.get(request_page(rd="https://evil.example/phish"))
        answer = await ask(alice, rd="https://evil.example/phish")
        return page, answer

    page, answer = site.run(steps)
    assert 'name="rd" value=""' in page.text
    assert "evil.example" not in page.text
    assert "rd=" not in answer.headers["location"]


def test_status_page_ignores_an_unsafe_rd(site: Site) -> None:
    """The status page never offers, nor scripts a way to, an rd off the protected hosts."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        return await alice.get(f"/request/{request_id}?rd=javascript:alert(1)")

    page = site.run(steps)
    assert 'data-rd=""' in page.text
    assert "javascript:" not in page.text


def test_unknown_application_is_not_found(site: Site) -> None:
    """An app id no policy defines is a 404 page."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page(app="nope"))

    assert site.run(steps).status_code == 404


def test_blocked_user_cannot_ask(site: Site) -> None:
    """MALLORY the contractor is blocked from Grafana: 403 with the reason code."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(MALLORY).get(request_page())

    page = site.run(steps)
    assert page.status_code == 403
    assert "no-policy-allows-a-request" in page.text


def test_justification_only_application_records_and_returns(site: Site) -> None:
    """On the wiki a reason is enough: the post sends ALICE straight back to rd."""
    rd = "https://wiki.example.com/runbooks"

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        page = await alice.get(request_page("wiki", rd))
        fields = {
            "csrf": csrf_of(page),
            "app": "wiki",
            "rd": rd,
            "justification": "Reading the on-call runbook",
        }
        return page, await post_form(alice, "/request", fields)

    page, answer = site.run(steps)
    assert "What are you looking for?" in page.text
    assert "<select" not in page.text
    assert answer.status_code == 303
    assert answer.headers["location"] == rd


def test_status_json_reports_the_state(site: Site) -> None:
    """The status page's script polls a small JSON answer."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        return await alice.get(f"/request/{request_id}/status.json")

    answer = site.run(steps)
    assert answer.status_code == 200
    assert answer.json() == {"state": "pending", "status": "pending"}
    assert answer.headers["cache-control"] == "no-store"


def test_status_json_without_a_session_is_401(site: Site) -> None:
    """The poll never redirects: a script cannot follow one to a sign-in page."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(ALICE))
        return await visit.client().get(f"/request/{request_id}/status.json")

    assert site.run(steps).status_code == 401


def test_requester_withdraws_a_pending_request(site: Site) -> None:
    """The withdraw button cancels the request; the status page then offers to ask again."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        status = await alice.get(f"/request/{request_id}")
        answer = await post_form(
            alice, f"/request/{request_id}/cancel", {"csrf": csrf_of(status), "rd": GRAFANA_RD}
        )
        assert answer.status_code == 303
        return await alice.get(answer.headers["location"])

    page = site.run(steps)
    assert 'data-state="cancelled"' in page.text
    assert "Ask again" in page.text


def test_with_a_grant_in_force_the_request_page_says_until_when(site: Site) -> None:
    """Once approved, the request page tells ALICE she already has access, and posting the form
    again changes nothing: the same grant, no second request."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        left_open = await alice.get(request_page())  # the form, still open in another tab
        request_id = await ask_for_id(alice)
        approved = await review(visit.as_(BOB), request_id, "approve", duration="30m")
        assert approved.status_code == 303
        page = await alice.get(request_page())
        fields = {
            "csrf": csrf_of(left_open),
            "app": "grafana",
            "rd": GRAFANA_RD,
            "justification": "INC-2041: dashboards for the outage",
            "duration": "1h",
        }
        posted = await post_form(alice, "/request", fields)
        mine = await alice.get("/access")
        return page, posted, mine

    page, posted, mine = site.run(steps)
    assert page.status_code == 200
    assert 'id="has-access"' in page.text
    assert "You already have access until" in page.text
    assert posted.status_code == 200
    assert 'id="has-access"' in posted.text
    grant = re.search(r'data-grant="(grt_[A-Za-z0-9_-]+)"', page.text)
    assert grant is not None
    assert f'data-grant="{grant.group(1)}"' in posted.text
    assert mine.text.count('/end"') == 1


def test_an_approved_request_without_rd_links_to_the_application(site: Site) -> None:
    """Asked from the access page (no rd): once approved, the status page offers a link that
    opens the application, over PUBLIC_URL's scheme."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice, rd="")
        approved = await review(visit.as_(BOB), request_id, "approve", duration="1h")
        assert approved.status_code == 303
        return await alice.get(f"/request/{request_id}")

    page = site.run(steps)
    assert 'href="http://grafana.example.com/" id="continue">Open Grafana</a>' in page.text


def test_pages_carry_the_favicon(site: Site) -> None:
    """Every page links the icon; it is served as SVG from the static files."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        alice = visit.as_(ALICE)
        page = await alice.get("/access")
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
        assert link is not None
        return page, await alice.get(link.group(1))

    page, icon = site.run(steps)
    assert page.status_code == 200
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")

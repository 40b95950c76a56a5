"""Step-up on the review page: the database console's approvers need MFA within 15 minutes.
An approver whose sign-in falls short is told so and offered "Sign in again" (back to the same
page) instead of the approve button; an approval posted anyway is refused, never done."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.adapters.ui.site import (
    ALICE,
    CAROL,
    PUBLIC_URL,
    Site,
    Visit,
    ask_for_id,
    csrf_of,
    post_form,
)

DB_RD = "https://db-console.example.com/query"
DB_REASON = "CHG-1234 add an index to orders"
ALICE_MFA = replace(ALICE, amr=("pwd", "mfa"), signed_in_ago=timedelta(minutes=1))
#: CAROL a minute after signing in with a password only.
CAROL_PASSWORD = replace(CAROL, amr=("pwd",), signed_in_ago=timedelta(minutes=1))
#: CAROL with MFA, but without auth_time in her token.
CAROL_TIMELESS = replace(CAROL, amr=("pwd", "mfa"))
#: CAROL a minute after signing in with MFA.
CAROL_FRESH = replace(CAROL, amr=("pwd", "mfa"), signed_in_ago=timedelta(minutes=1))
MESSAGE = "This approval needs a fresh sign-in with MFA"
_STEP_UP_LINK = re.compile(
    r'<a class="button" href="([^"]+)" id="step-up-sign-in">Sign in again</a>'
)


async def alice_asks(visit: Visit) -> str:
    """ALICE (MFA) asks for the database console; the request id."""
    return await ask_for_id(
        visit.as_(ALICE_MFA), app="db-console", rd=DB_RD, justification=DB_REASON
    )


def step_up_link(page: httpx.Response) -> str:
    """The "Sign in again" link of a page, unescaped."""
    match = _STEP_UP_LINK.search(page.text)
    assert match is not None, page.text[:3000]
    return html.unescape(match.group(1))


def test_a_password_only_approver_is_asked_to_sign_in_again(site: Site) -> None:
    """CAROL without MFA sees why and a "Sign in again" link, no approve button, and may deny."""

    async def steps(visit: Visit) -> tuple[str, httpx.Response]:
        request_id = await alice_asks(visit)
        return request_id, await visit.as_(CAROL_PASSWORD).get(f"/inbox/{request_id}")

    _request_id, page = site.run(steps)
    assert page.status_code == 200
    assert MESSAGE in page.text
    assert 'id="approve-form"' not in page.text
    assert 'id="deny-form"' in page.text


def test_the_sign_in_link_comes_back_to_the_same_review_page(site: Site) -> None:
    """The link is /login?rd=<this page under PUBLIC_URL>&prompt=login&max_age=900&mfa=1."""

    async def steps(visit: Visit) -> tuple[str, httpx.Response]:
        request_id = await alice_asks(visit)
        return request_id, await visit.as_(CAROL_TIMELESS).get(f"/inbox/{request_id}")

    request_id, page = site.run(steps)
    parts = urlsplit(step_up_link(page))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC_URL}/login"
    assert parse_qs(parts.query) == {
        "rd": [f"{PUBLIC_URL}/inbox/{request_id}"],
        "prompt": ["login"],
        "max_age": ["900"],
        "mfa": ["1"],
    }


def test_an_approval_posted_anyway_is_refused_with_the_same_message(site: Site) -> None:
    """CAROL without MFA posts the approve form (from an old tab): 403, the message and the
    link; the request is still pending with no review."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        request_id = await alice_asks(visit)
        carol = visit.as_(CAROL_PASSWORD)
        page = await carol.get(f"/inbox/{request_id}")
        refused = await post_form(carol, f"/inbox/{request_id}/approve", {"csrf": csrf_of(page)})
        return refused, await carol.get(f"/inbox/{request_id}")

    refused, after = site.run(steps)
    assert refused.status_code == 403
    assert MESSAGE in refused.text
    assert "/login?" in step_up_link(refused)
    assert "No reviews yet." in after.text
    assert "Waiting:" in after.text


def test_a_fresh_mfa_approver_sees_the_approve_button_and_approves(site: Site) -> None:
    """CAROL, MFA a minute ago: no step-up note; her approval is recorded."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        request_id = await alice_asks(visit)
        carol = visit.as_(CAROL_FRESH)
        page = await carol.get(f"/inbox/{request_id}")
        done = await post_form(carol, f"/inbox/{request_id}/approve", {"csrf": csrf_of(page)})
        return page, done, await carol.get(f"/inbox/{request_id}")

    page, done, after = site.run(steps)
    assert MESSAGE not in page.text
    assert 'id="approve-form"' in page.text
    assert done.status_code == 303
    assert "carol@example.com</strong> approved" in after.text


def test_a_stale_approver_may_still_deny(site: Site) -> None:
    """CAROL without MFA denies with a comment: the request ends."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await alice_asks(visit)
        carol = visit.as_(CAROL_PASSWORD)
        page = await carol.get(f"/inbox/{request_id}")
        fields = {"csrf": csrf_of(page), "comment": "no change window today"}
        await post_form(carol, f"/inbox/{request_id}/deny", fields)
        return await carol.get(f"/inbox/{request_id}")

    after = site.run(steps)
    assert "Denied by carol@example.com" in after.text

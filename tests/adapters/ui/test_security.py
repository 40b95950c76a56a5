"""The pages' security rules: CSRF on every post, escaped output, headers on every answer."""

from __future__ import annotations

import httpx
import pytest

from app.adapters.ui.security import origin_of, same_origin_post
from tests.adapters.ui.site import (
    ALICE,
    BOB,
    PUBLIC_URL,
    Site,
    Visit,
    ask,
    ask_for_id,
    csrf_of,
    post_form,
    request_page,
)

EXPECTED_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}
SCRIPT = '<script>alert("pwned")</script> INC-1 "quoted" & <b>bold</b>'


def assert_page_headers(response: httpx.Response, *, form_action: str = "'self'") -> None:
    expected = dict(EXPECTED_HEADERS)
    expected["content-security-policy"] = expected["content-security-policy"].replace(
        "form-action 'self'", f"form-action {form_action}"
    )
    for name, value in expected.items():
        assert response.headers.get(name) == value, (name, response.request.url)


def test_approve_without_the_csrf_token_is_refused(site: Site) -> None:
    """BOB's browser tricked into posting an approval without the token: 403, still pending."""

    async def steps(visit: Visit) -> tuple[httpx.Response, httpx.Response]:
        bob = visit.as_(BOB)
        request_id = await ask_for_id(visit.as_(ALICE))
        answer = await post_form(bob, f"/inbox/{request_id}/approve", {"duration": "8h"})
        return answer, await bob.get(f"/request/{request_id}/status.json")

    answer, status = site.run(steps)
    assert answer.status_code == 403
    assert "This form cannot be accepted" in answer.text
    assert_page_headers(answer)
    assert status.json()["state"] == "pending"


def test_csrf_token_of_another_session_is_refused(site: Site) -> None:
    """ALICE's form token does not work with BOB's session."""

    async def steps(visit: Visit) -> httpx.Response:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice)
        alices_token = csrf_of(await alice.get(f"/request/{request_id}"))
        fields = {"csrf": alices_token, "duration": "1h"}
        return await post_form(visit.as_(BOB), f"/inbox/{request_id}/approve", fields)

    assert site.run(steps).status_code == 403


def test_post_from_another_site_is_refused_even_with_the_token(site: Site) -> None:
    """A browser that says the post came from a sibling subdomain is refused (403)."""

    async def steps(visit: Visit) -> httpx.Response:
        bob = visit.as_(BOB)
        request_id = await ask_for_id(visit.as_(ALICE))
        page = await bob.get(f"/inbox/{request_id}")
        fields = {"csrf": csrf_of(page), "duration": "1h"}
        return await post_form(
            bob, f"/inbox/{request_id}/approve", fields, **{"sec-fetch-site": "same-site"}
        )

    assert site.run(steps).status_code == 403


def test_post_without_a_session_is_refused_not_redirected(site: Site) -> None:
    """A post with no session cookie (as SameSite=Lax makes a cross-site one) is a 403 page."""

    async def steps(visit: Visit) -> httpx.Response:
        request_id = await ask_for_id(visit.as_(ALICE))
        return await post_form(visit.client(), f"/inbox/{request_id}/approve", {"csrf": "x"})

    answer = site.run(steps)
    assert answer.status_code == 403
    assert "Please sign in again" in answer.text
    assert_page_headers(answer)


def test_script_in_a_justification_is_shown_as_text(site: Site) -> None:
    """Markup in ALICE's reason reaches BOB's pages escaped, never as markup."""

    async def steps(visit: Visit) -> list[httpx.Response]:
        alice = visit.as_(ALICE)
        request_id = await ask_for_id(alice, justification=SCRIPT)
        bob = visit.as_(BOB)
        return [
            await bob.get("/inbox"),
            await bob.get(f"/inbox/{request_id}"),
            await alice.get(f"/request/{request_id}"),
        ]

    for page in site.run(steps):
        assert "<script>alert" not in page.text
        assert "<b>bold</b>" not in page.text
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page.text


def test_markup_in_a_refused_form_is_escaped(site: Site) -> None:
    """A too-short reason holding markup comes back escaped in the textarea."""

    async def steps(visit: Visit) -> httpx.Response:
        return await ask(visit.as_(ALICE), justification="<i>x")

    page = site.run(steps)
    assert page.status_code == 422
    assert "&lt;i&gt;x</textarea>" in page.text


def test_hostile_rd_is_escaped_or_dropped(site: Site) -> None:
    """An rd with quotes and markup never reaches an attribute unescaped."""
    rd = 'https://grafana.example.com/"><script>x()</script>'

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page(rd=rd))

    page = site.run(steps)
    assert "<script>x()" not in page.text


@pytest.mark.parametrize(
    ("path", "status", "form_action"),
    [
        # The request form's post may end in a 303 to rd: its origin is allowed, no other.
        (request_page(), 200, "'self' https://grafana.example.com"),
        (request_page(rd=""), 200, "'self'"),
        ("/inbox", 200, "'self'"),
        ("/access", 200, "'self'"),
        ("/inbox/req_nope", 404, "'self'"),
        ("/request?app=nope", 404, "'self'"),
        ("/", 302, "'self'"),
    ],
)
def test_every_answer_carries_the_security_headers(
    site: Site, path: str, status: int, form_action: str
) -> None:
    """CSP, X-Frame-Options DENY, no referrer, nosniff and no-store on pages and redirects."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(path)

    answer = site.run(steps)
    assert answer.status_code == status
    assert_page_headers(answer, form_action=form_action)


def test_a_refused_rd_adds_nothing_to_form_action(site: Site) -> None:
    """An rd that is not a safe redirect target is dropped, and so is its origin."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page(rd="https://evil.example.net/x"))

    answer = site.run(steps)
    assert answer.status_code == 200
    assert_page_headers(answer)


def test_redirect_to_sign_in_carries_the_security_headers(site: Site) -> None:
    """Even the redirect to sign in says no-store and DENY."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.client().get("/access")

    answer = site.run(steps)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"{PUBLIC_URL}/login?rd=")
    assert_page_headers(answer)


def test_pages_load_no_inline_script_or_style(site: Site) -> None:
    """Everything the CSP allows comes from /static: no inline script, style or handler."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page())

    page = site.run(steps).text
    assert "<style" not in page
    assert " style=" not in page
    assert " onclick=" not in page
    assert '<script src="/static/app.js?v=' in page
    assert page.count("<script") == 1


def test_static_files_are_served_with_nosniff(site: Site) -> None:
    """CSS and the script are served with their types; unknown names are 404."""

    async def steps(visit: Visit) -> list[httpx.Response]:
        client = visit.client()
        return [
            await client.get("/static/app.css"),
            await client.get("/static/app.js"),
            await client.get("/static/..%2fsecurity.py"),
            await client.get("/static/nope.js"),
        ]

    css, js, traversal, missing = site.run(steps)
    assert css.headers["content-type"].startswith("text/css")
    assert js.headers["content-type"].startswith("text/javascript")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "fetch(" in js.text
    assert traversal.status_code == 404
    assert missing.status_code == 404


def test_forms_carry_the_session_token(site: Site) -> None:
    """Every form of the request page has the hidden csrf field."""

    async def steps(visit: Visit) -> httpx.Response:
        return await visit.as_(ALICE).get(request_page())

    page = site.run(steps).text
    assert page.count("<form") == page.count('name="csrf"') == 1


OUR_ORIGIN = "http://auth.example.com:8000"


async def approve_with(visit: Visit, **headers: str) -> httpx.Response:
    """BOB approves ALICE's fresh request with his own form token and the given headers."""
    bob = visit.as_(BOB)
    request_id = await ask_for_id(visit.as_(ALICE))
    page = await bob.get(f"/inbox/{request_id}")
    fields = {"csrf": csrf_of(page), "duration": "1h"}
    return await post_form(bob, f"/inbox/{request_id}/approve", fields, **headers)


@pytest.mark.parametrize(
    ("public_url", "origin"),
    [
        ("https://auth.example.com", "https://auth.example.com"),
        ("https://Auth.Example.com:443/countersign/", "https://auth.example.com"),
        ("http://auth.example.com:80", "http://auth.example.com"),
        (PUBLIC_URL, OUR_ORIGIN),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_the_public_origin_is_serialised_as_browsers_send_it(public_url: str, origin: str) -> None:
    """scheme://host[:port] of PUBLIC_URL: lower case, no path, default port left out."""
    assert origin_of(public_url) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://auth.example.com",
        "http://auth.example.com:8001",
        "https://auth.example.com:8000",
        "http://wiki.auth.example.com:8000",
        "null",
        "",
    ],
)
def test_an_origin_other_than_ours_is_refused(origin: str) -> None:
    """Any Origin but PUBLIC_URL's own, `null` and empty included, fails the post check."""
    headers = {"origin": origin, "sec-fetch-site": "same-origin"}
    assert not same_origin_post(headers, public_origin=origin_of(PUBLIC_URL))


def test_our_own_origin_or_none_passes_the_origin_check() -> None:
    """A post from our pages (or from a browser that sends no Origin) passes this check."""
    ours = origin_of(PUBLIC_URL)
    assert same_origin_post({"origin": "HTTP://auth.example.com:8000"}, public_origin=ours)
    assert same_origin_post({}, public_origin=ours)


def test_sec_fetch_site_is_checked_besides_the_origin() -> None:
    """A same-site (sibling subdomain) post is refused even with our Origin."""
    headers = {"origin": OUR_ORIGIN, "sec-fetch-site": "same-site"}
    assert not same_origin_post(headers, public_origin=OUR_ORIGIN)


def test_origin_null_post_is_refused_even_with_the_token(site: Site) -> None:
    """A post from a sandboxed frame (`Origin: null`) with BOB's token is a 403, still pending."""

    async def steps(visit: Visit) -> httpx.Response:
        return await approve_with(visit, origin="null")

    assert site.run(steps).status_code == 403


def test_post_from_our_own_origin_is_accepted(site: Site) -> None:
    """BOB's approval from our own page, `Origin` and all, goes through."""

    async def steps(visit: Visit) -> httpx.Response:
        return await approve_with(visit, origin=OUR_ORIGIN, **{"sec-fetch-site": "same-origin"})

    assert site.run(steps).status_code == 303


def test_post_from_another_origin_is_refused_even_with_the_token(site: Site) -> None:
    """A browser without Sec-Fetch-Site posting from evil.example with BOB's token: 403."""

    async def steps(visit: Visit) -> httpx.Response:
        return await approve_with(visit, origin="https://evil.example")

    assert site.run(steps).status_code == 403

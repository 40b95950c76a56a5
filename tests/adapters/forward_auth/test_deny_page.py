"""The refusal page: reason sentences, whom to ask, escaping and headers, and how the forward-auth
handler serves it per proxy (in the check's 403 for Traefik, Caddy and Envoy; on nginx a mark,
then the page from /auth/nginx/denied)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime

import pytest

from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.deny_page import (
    ADMINISTRATOR,
    GENERIC,
    NOT_SIGNED_IN,
    SENTENCES,
    DenyPage,
    deny_view,
    reason_sentences,
)
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.forward_auth.original import build_original
from app.core.context import Identity
from app.core.decision import Decision, Effect
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from app.services.decide import DecisionService
from tests.adapters.forward_auth.scenario import (
    Grants,
    Observer,
    call,
    identify,
    nginx,
    signals,
    traefik,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
HOSTILE_APP = '<script>alert("app")</script> & Tools'
HOSTILE_POLICY = "<b>Contractors</b> never"
TOOLS = f"""
application: {{id: tools, name: '{HOSTILE_APP}', hosts: [tools.example.com]}}
policies:
  - name: '{HOSTILE_POLICY}'
    action: block
    include: [{{group: contractors}}]
  - name: SRE
    action: allow
    include: [{{group: sre}}]
  - name: Engineers with approval
    action: allow
    include: [{{group: engineers}}]
    approval: {{approvers: [{{group: sre-leads}}, {{email: olivia@example.com}}],
                default_duration: 1h, max_duration: 8h}}
  - name: Engineers on call, with approval
    action: allow
    include: [{{group: on-call}}]
    approval: {{approvers: [{{group: sre-leads}}], default_duration: 1h, max_duration: 8h}}
"""
ADMIN = """
application: {id: admin, name: Admin console, hosts: [admin.example.com]}
policies:
  - {name: Admins, action: allow, include: [{group: admins}]}
"""
POLICIES = compile_policy_set([Source("tools.yaml", TOOLS), Source("admin.yaml", ADMIN)])
MALLORY = Identity("mallory", "mallory@contractor.example", frozenset({"contractors"}))
EVE = Identity("eve", '"><img src=x onerror=alert(1)>@example.com', frozenset({"contractors"}))
ORIGINAL = build_original("GET", "https", "tools.example.com", "/reports?q=1&x=<y>")
BLOCKED = Decision(
    Effect.DENY, (Reason.POLICY_BLOCK, Reason.GROUPS_NOT_ALLOWED), "tools", HOSTILE_POLICY
)


def page() -> DenyPage:
    return DenyPage(
        policies=lambda: POLICIES,
        public_url="https://auth.example.com/",
        login_url="https://auth.example.com/login",
    )


def test_a_block_says_which_policy_refused_and_why() -> None:
    """policy-block names the policy; the rule's code becomes a sentence after it."""
    assert reason_sentences(BLOCKED) == (
        f"The policy “{HOSTILE_POLICY}” refuses you access.",
        "Your groups are not allowed here.",
    )


@pytest.mark.parametrize("reason", [r for r in Reason if r.value.endswith("-not-allowed")])
def test_every_not_allowed_code_has_a_plain_sentence(reason: Reason) -> None:
    """Each selector's refusal code reads as a sentence, never as the code itself."""
    said = reason_sentences(Decision(Effect.DENY, (reason,), "tools"))
    assert said == (SENTENCES[reason],)
    assert reason.value not in said[0]


def test_sentences_are_said_once_and_unknown_codes_fall_back() -> None:
    """Repeated codes are said once; a deny with no known code still says something."""
    twice = Decision(Effect.DENY, (Reason.IP_NOT_ALLOWED, Reason.IP_NOT_ALLOWED), "tools")
    assert len(reason_sentences(twice)) == 1
    assert reason_sentences(Decision(Effect.DENY, (Reason.EVERYONE_OK,), "tools")) == (GENERIC,)
    assert reason_sentences(None) == (GENERIC,)
    allow = Decision(Effect.ALLOW, (Reason.POLICY_ALLOW,), "tools", "SRE")
    assert reason_sentences(allow) == (GENERIC,)


def test_a_block_without_a_policy_name_does_not_show_the_placeholder() -> None:
    """The sentence never carries `{policy}` or empty quotes."""
    said = reason_sentences(Decision(Effect.DENY, (Reason.POLICY_BLOCK,), "tools"))
    assert said == ("The policy refuses you access.",)


def test_whom_to_ask_lists_every_approver_once() -> None:
    """Approvers of all the application's policies, in order, without repeats."""
    view = deny_view(BLOCKED, MALLORY, POLICIES)
    assert view.title == f"You cannot use {HOSTILE_APP}"
    assert view.ask == ("members of the group sre-leads", "olivia@example.com")
    assert view.signed_in_as == "mallory@contractor.example"
    assert view.code == "policy-block"


def test_an_application_without_approvers_says_your_administrator() -> None:
    """No approval block anywhere: ask your administrator."""
    view = deny_view(Decision(Effect.DENY, (Reason.NO_POLICY_MATCHED,), "admin"), MALLORY, POLICIES)
    assert view.title == "You cannot use Admin console"
    assert view.why == ("No policy of this application lets you in.",)
    assert view.ask == (ADMINISTRATOR,)


def test_an_unprotected_host_names_nothing() -> None:
    """application-not-found (or an application gone from the policies) names no application."""
    for decision in (
        Decision(Effect.DENY, (Reason.APPLICATION_NOT_FOUND,)),
        Decision(Effect.DENY, (Reason.NO_POLICY_MATCHED,), "removed-app"),
    ):
        view = deny_view(decision, MALLORY, POLICIES)
        assert view.title == "You cannot use this site"
        assert view.ask == (ADMINISTRATOR,)


def test_nobody_signed_in_is_told_to_sign_in() -> None:
    """Without an identity the page says so and offers sign-in."""
    view = deny_view(None, None, POLICIES)
    assert view.signed_in_as is None
    assert view.why == (NOT_SIGNED_IN,)
    body = page().html(None, None, ORIGINAL).decode()
    assert "Nobody: you are not signed in" in body
    link = "https://auth.example.com/login?rd=https%3A%2F%2Ftools.example.com%2Freports%3Fq%3D1"
    assert f'<a class="button" href="{link}' in body


def test_the_page_escapes_every_name() -> None:
    """Application, policy and user names are text in the page, never markup."""
    body = page().html(BLOCKED, EVE, ORIGINAL).decode()
    assert "<script>alert" not in body
    assert "<b>Contractors" not in body
    assert "<img" not in body
    assert "&lt;script&gt;alert(&#34;app&#34;)&lt;/script&gt; &amp; Tools" in body
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;@example.com" in body


def test_the_answer_is_html_403_with_a_csp_that_allows_only_its_own_style() -> None:
    """No script, no frames, no forms; the inline stylesheet is allowed by its hash."""
    answer = page().answer(BLOCKED, MALLORY, ORIGINAL)
    headers = dict(answer.headers)
    assert answer.status == 403
    assert headers[b"content-type"] == b"text/html; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-frame-options"] == b"DENY"
    assert headers[b"x-content-type-options"] == b"nosniff"
    csp = headers[b"content-security-policy"].decode()
    style = re.search(r"<style>(.*)</style>", answer.body.decode(), re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert csp.startswith("default-src 'none'; ")
    assert f"style-src 'sha256-{digest}'" in csp
    assert "script-src" not in csp
    assert "<script" not in answer.body.decode()
    assert "frame-ancestors 'none'" in csp


def test_links_on_the_page_are_absolute() -> None:
    """Served on the application's origin, the page links only to Countersign's public URL."""
    body = page().html(BLOCKED, MALLORY, ORIGINAL).decode()
    for href in re.findall(r'href="([^"]*)"', body):
        assert href.startswith("https://auth.example.com/"), href


# --- through the forward-auth handler --------------------------------------------------------


def handler(*, with_page: bool = True) -> ForwardAuth:
    service = DecisionService(
        policies=lambda: POLICIES,
        grants=Grants(),
        clock=lambda: NOW,
        observer=Observer(),
        store_timeout=0.5,
    )
    return ForwardAuth(
        decisions=service,
        identify=identify,
        signals=signals,
        is_trusted_peer=lambda peer: peer == "127.0.0.1",
        targets=Targets("https://auth.example.com/login", "https://auth.example.com/request"),
        deny_page=page() if with_page else None,
    )


URL = "https://tools.example.com/reports"


def _envoy(token: str, accept: str = "text/html") -> dict[str, str]:
    return {"Host": "tools.example.com", "Authorization": f"Bearer {token}", "Accept": accept}


@pytest.mark.parametrize("flavour", ["traefik", "envoy"])
def test_a_denied_browser_gets_the_page_in_the_checks_own_403(flavour: str) -> None:
    """Traefik, Caddy and Envoy pass the check's body on: it is the page."""
    path, headers = (
        ("/auth/traefik", traefik(URL, "mallory-token"))
        if flavour == "traefik"
        else ("/auth/envoy/reports", _envoy("mallory-token"))
    )
    response = call(handler(), path, headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Your groups are not allowed here." in response.text
    assert "mallory@contractor.example" in response.text


@pytest.mark.parametrize("flavour", ["traefik", "envoy", "nginx"])
def test_api_clients_keep_the_json_deny(flavour: str) -> None:
    """Accept: application/json and XHR keep `{"decision":"deny"}`, with no page mark."""
    for extra in ({"Accept": "application/json"}, {"X-Requested-With": "XMLHttpRequest"}):
        if flavour == "traefik":
            path, headers = "/auth/traefik", traefik(URL, "mallory-token", **extra)
        elif flavour == "nginx":
            path, headers = "/auth/nginx", nginx(URL, "mallory-token", **extra)
        else:
            path, headers = "/auth/envoy/reports", {**_envoy("mallory-token"), **extra}
        response = call(handler(), path, headers)
        assert response.status_code == 403
        assert response.json() == {"decision": "deny"}
        assert "x-countersign-deny-page" not in response.headers


def test_without_a_page_browsers_get_the_json_deny() -> None:
    """A handler built without the page answers browsers as before."""
    response = call(handler(with_page=False), "/auth/traefik", traefik(URL, "mallory-token"))
    assert response.status_code == 403
    assert response.json() == {"decision": "deny"}
    assert call(handler(with_page=False), "/auth/nginx/denied", nginx(URL)).status_code == 404


def test_nginx_check_marks_a_browsers_403_and_renders_nothing() -> None:
    """auth_request drops the body: the check only marks the 403 for the config's error_page."""
    response = call(handler(), "/auth/nginx", nginx(URL, "mallory-token"))
    assert response.status_code == 403
    assert response.headers["x-countersign-deny-page"] == "1"
    assert "<html" not in response.text


def test_nginx_page_call_renders_the_page_for_the_same_decision() -> None:
    """/auth/nginx/denied decides again for the same person and URL and shows why."""
    response = call(handler(), "/auth/nginx/denied", nginx(URL, "mallory-token"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "The policy “&lt;b&gt;Contractors&lt;/b&gt; never” refuses you access." in (
        response.text
    )
    assert "content-security-policy" in response.headers


def test_nginx_page_call_never_lets_anyone_through() -> None:
    """An allowed person on the page path still gets a 403, with no identity headers."""
    response = call(handler(), "/auth/nginx/denied", nginx(URL, "bob-token"))
    assert response.status_code == 403
    assert not [h for h in response.headers if h.startswith("x-auth-request")]
    assert GENERIC in response.text


def test_nginx_page_call_works_without_a_session() -> None:
    """Nobody signed in: the page says access is refused and offers sign-in."""
    response = call(handler(), "/auth/nginx/denied", nginx(URL))
    assert response.status_code == 403
    assert NOT_SIGNED_IN in response.text
    assert ">Sign in</a>" in response.text


def test_nginx_page_call_for_an_unprotected_host_names_nothing() -> None:
    """A host no application claims: the generic page, no application or approver named."""
    response = call(
        handler(), "/auth/nginx/denied", nginx("https://other.example.net/", "mallory-token")
    )
    assert response.status_code == 403
    assert "You cannot use this site" in response.text
    assert "Tools" not in response.text
    assert "sre-leads" not in response.text


def test_nginx_page_call_is_for_trusted_proxies_only() -> None:
    """Like the check, the page path refuses a caller outside the trusted proxies."""
    response = call(
        handler(), "/auth/nginx/denied", nginx(URL, "mallory-token"), client=("203.0.113.9", 1)
    )
    assert response.status_code == 400


def test_a_page_that_cannot_be_rendered_is_still_a_plain_403() -> None:
    """If the policies cannot be read while rendering, the browser gets the JSON 403: never a
    500, never an allow."""

    def broken() -> PolicySet:
        raise RuntimeError("policy set unavailable")

    answer = DenyPage(
        policies=broken,
        public_url="https://auth.example.com",
        login_url="https://auth.example.com/login",
    ).answer(BLOCKED, MALLORY, ORIGINAL)
    assert answer.status == 403
    assert answer.body == b'{"decision":"deny"}'

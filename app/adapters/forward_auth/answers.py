"""The decision-to-response table: what each decision becomes, for every proxy and transport.

Precedence of cases is the table in docs/architecture.md §5. A flavour (flavours/) only says how
its proxy differs: nginx redirects with 401 + Location and fetches the refusal page through
`error_page`; Traefik and Caddy take the application's Cookie from the answer; everything else
is the same for every proxy. The answer is transport-neutral (status, headers, body): the ASGI
handler writes it as HTTP, the gRPC servicer maps it onto Envoy's CheckResponse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from app.adapters.forward_auth.original import OriginalRequest
from app.adapters.forward_auth.upstream_cookie import DEFAULT_COOKIE_NAME, upstream_cookie
from app.core.decision import Decision, Effect
from app.core.reasons import Reason

Headers = Mapping[str, str]
RawHeaders = list[tuple[bytes, bytes]]
#: X-Auth-Request-* of an allow answer, shared between requests (see identity_headers).
IdentityHeaders = tuple[tuple[bytes, bytes], ...]

NO_STORE = (b"cache-control", b"no-store")
JSON_TYPE = (b"content-type", b"application/json")
WWW_AUTH = (b"www-authenticate", b'Bearer realm="countersign"')
CANNOT_DECIDE = frozenset({Reason.GRANT_STATE_UNAVAILABLE, Reason.INTERNAL_ERROR})
#: On nginx's 403 for a browser: the shipped config then fetches the page from
#: /auth/nginx/denied (auth_request drops the body of the check's answer).
DENY_PAGE_MARK = (b"x-countersign-deny-page", b"1")


@dataclass(frozen=True, slots=True)
class Answer:
    """What goes back to the proxy, whatever the transport."""

    status: int
    headers: RawHeaders
    body: bytes = b""


#: The answer to a request the check cannot trust (a foreign caller, forged or ambiguous
#: metadata): never a decision, only this.
BAD_REQUEST = Answer(400, [NO_STORE, JSON_TYPE], b'{"decision":"bad_request"}')
NOT_FOUND = Answer(404, [NO_STORE])


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a user is sent: sign-in page, or the request page of an application."""

    login_url: str
    request_url: str
    #: COUNTERSIGN_COOKIE_NAME: removed from the Cookie an allow answer carries upstream.
    session_cookie: str = DEFAULT_COOKIE_NAME


class Style(Protocol):
    """How one proxy wants its answers; the flavours implement it."""

    @property
    def redirect_with_401(self) -> bool:
        """nginx cannot pass a redirect through auth_request: 401 + Location instead."""

    @property
    def carries_upstream_cookie(self) -> bool:
        """The allow carries the Cookie the application should get (see upstream_cookie):
        only for proxies that cannot rewrite the header themselves."""

    @property
    def page_by_second_call(self) -> bool:
        """The proxy drops the check's body: mark the 403 and serve the page when asked again
        (nginx's `error_page 403` → /auth/nginx/denied)."""


def is_api_client(headers: Headers) -> bool:
    """XHR and API clients cannot follow a cross-origin redirect: they get 401/403 instead."""
    if "x-requested-with" in headers:
        return True
    accept = headers.get("accept", "")
    return "text/html" not in accept


def login_location(targets: Targets, original: OriginalRequest) -> str:
    """The sign-in URL carrying the original URL in `rd`."""
    joiner = "&" if "?" in targets.login_url else "?"
    return f"{targets.login_url}{joiner}rd={quote(original.url, safe='')}"


def request_location(targets: Targets, original: OriginalRequest, application: str) -> str:
    """The request page for `application`, carrying the original URL in `rd`."""
    return (
        f"{targets.request_url}?app={quote(application, safe='')}&rd={quote(original.url, safe='')}"
    )


def _json(body: dict[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def answer_for(
    style: Style,
    decision: Decision,
    *,
    original: OriginalRequest,
    headers: Headers,
    targets: Targets,
    identity_headers: IdentityHeaders,
    page: Callable[[], Answer] | None = None,
) -> Answer:
    """The table. `page` makes the refusal page for a denied browser (None: browsers get the
    same 403 as API clients).

    | decision                         | browser                      | API / XHR client       |
    |----------------------------------|------------------------------|------------------------|
    | allow                            | 200 + identity headers       | same                   |
    | deny, store/internal error       | 503                          | 503                    |
    | deny                             | 403 + refusal page           | 403 JSON               |
    | unauthenticated                  | redirect to sign-in          | 401 + WWW-Authenticate |
    | needs approval / justification,  | redirect to the request page | 403 JSON + request URL |
    | pending                          |                              |                        |

    A redirect is 302 (GET/HEAD) or 303, or 401 + Location where the proxy needs it.
    """
    effect = decision.effect
    if effect is Effect.ALLOW:
        if not style.carries_upstream_cookie:
            return Answer(200, [NO_STORE, *identity_headers])
        upstream = upstream_cookie(headers, targets.session_cookie)
        return Answer(200, [NO_STORE, *identity_headers, *upstream])
    if effect is Effect.DENY:
        if CANNOT_DECIDE.intersection(decision.reasons):
            return Answer(503, [NO_STORE, JSON_TYPE], _json({"decision": "unavailable"}))
        if page is None or is_api_client(headers):
            return Answer(403, [NO_STORE, JSON_TYPE], _json({"decision": effect.value}))
        if style.page_by_second_call:
            return Answer(403, [NO_STORE, JSON_TYPE, DENY_PAGE_MARK], _json({"decision": "deny"}))
        return page()
    api = is_api_client(headers)
    if effect is Effect.UNAUTHENTICATED:
        if api:
            return Answer(401, [NO_STORE, WWW_AUTH, JSON_TYPE], _json({"decision": effect.value}))
        return _redirect(style, original, login_location(targets, original))
    location = request_location(targets, original, decision.application or "")
    if api:
        body = {"decision": effect.value, "request_url": location}
        return Answer(
            403,
            [NO_STORE, JSON_TYPE, (b"x-countersign-request-url", location.encode())],
            _json(body),
        )
    return _redirect(style, original, location)


def _redirect(style: Style, original: OriginalRequest, location: str) -> Answer:
    header = (b"location", location.encode())
    if style.redirect_with_401:
        return Answer(401, [NO_STORE, header])
    status = 302 if original.method in ("GET", "HEAD") else 303
    return Answer(status, [NO_STORE, header])

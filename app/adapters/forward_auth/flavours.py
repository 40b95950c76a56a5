"""How each proxy describes the original request, and how it wants each answer rendered.

One small class per flavour, as Authelia does: `original()` extracts the target, `render()`
picks the status, headers and body. Precedence of cases is the table in docs/architecture.md §5.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote

from app.adapters.forward_auth.original import (
    BadProxyRequestError,
    OriginalRequest,
    build_original,
    split_url,
)
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
REDIRECTING = frozenset(
    {Effect.UNAUTHENTICATED, Effect.NEEDS_APPROVAL, Effect.NEEDS_JUSTIFICATION, Effect.PENDING}
)
CANNOT_DECIDE = frozenset({Reason.GRANT_STATE_UNAVAILABLE, Reason.INTERNAL_ERROR})
#: On nginx's 403 for a browser: the shipped config then fetches the page from
#: /auth/nginx/denied (auth_request drops the body of the check's answer).
DENY_PAGE_MARK = (b"x-countersign-deny-page", b"1")


@dataclass(frozen=True, slots=True)
class Answer:
    """What goes back to the proxy."""

    status: int
    headers: RawHeaders
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a user is sent: sign-in page, or the request page of an application."""

    login_url: str
    request_url: str
    #: COUNTERSIGN_COOKIE_NAME: removed from the Cookie an allow answer carries upstream.
    session_cookie: str = DEFAULT_COOKIE_NAME


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


class Flavour(abc.ABC):
    """Common rendering; subclasses say how they read the original request and redirect."""

    name: ClassVar[str] = ""
    #: nginx cannot pass a redirect through auth_request: it uses 401 + Location instead.
    redirect_with_401: ClassVar[bool] = False
    #: Whether an allow carries the Cookie the application should get (see upstream_cookie):
    #: only for proxies that cannot rewrite the header themselves.
    carries_upstream_cookie: ClassVar[bool] = False

    @abc.abstractmethod
    def original(self, scope: Mapping[str, object], headers: Headers) -> OriginalRequest:
        """Extract the original request; raise BadProxyRequestError when it cannot be trusted."""

    def render(
        self,
        decision: Decision,
        original: OriginalRequest,
        headers: Headers,
        targets: Targets,
        identity_headers: IdentityHeaders,
        *,
        page: Callable[[], Answer] | None = None,
    ) -> Answer:
        """Turn a decision into this proxy's answer. `page` makes the refusal page for a
        browser that is denied (None: browsers get the same 403 as API clients)."""
        effect = decision.effect
        if effect is Effect.ALLOW:
            if not self.carries_upstream_cookie:
                return Answer(200, [NO_STORE, *identity_headers])
            upstream = upstream_cookie(headers, targets.session_cookie)
            return Answer(200, [NO_STORE, *identity_headers, *upstream])
        if effect is Effect.DENY:
            if CANNOT_DECIDE.intersection(decision.reasons):
                return Answer(503, [NO_STORE, JSON_TYPE], _json({"decision": "unavailable"}))
            if page is not None and not is_api_client(headers):
                return self.deny_page(page)
            return Answer(403, [NO_STORE, JSON_TYPE], _json({"decision": effect.value}))
        api = is_api_client(headers)
        if effect is Effect.UNAUTHENTICATED:
            if api:
                return Answer(
                    401, [NO_STORE, WWW_AUTH, JSON_TYPE], _json({"decision": effect.value})
                )
            return self._redirect(original, login_location(targets, original))
        location = request_location(targets, original, decision.application or "")
        if api:
            body = {"decision": effect.value, "request_url": location}
            return Answer(
                403,
                [NO_STORE, JSON_TYPE, (b"x-countersign-request-url", location.encode())],
                _json(body),
            )
        return self._redirect(original, location)

    def deny_page(self, page: Callable[[], Answer]) -> Answer:
        """A browser's 403: the proxy hands this body to the browser as it is."""
        return page()

    def _redirect(self, original: OriginalRequest, location: str) -> Answer:
        header = (b"location", location.encode())
        if self.redirect_with_401:
            return Answer(401, [NO_STORE, header])
        status = 302 if original.method in ("GET", "HEAD") else 303
        return Answer(status, [NO_STORE, header])


class Nginx(Flavour):
    """`auth_request`: always a GET; the original in X-Original-URL/-Method (or X-Forwarded-*)."""

    name = "nginx"
    redirect_with_401 = True

    def deny_page(self, page: Callable[[], Answer]) -> Answer:
        """auth_request drops the body: the mark tells the shipped config to fetch the page
        (`error_page 403`), and nothing is rendered here."""
        return Answer(403, [NO_STORE, JSON_TYPE, DENY_PAGE_MARK], _json({"decision": "deny"}))

    def original(self, scope: Mapping[str, object], headers: Headers) -> OriginalRequest:
        url = headers.get("x-original-url")
        method = headers.get("x-original-method") or headers.get("x-forwarded-method")
        if url is not None:
            scheme, host, uri = split_url(url)
            return build_original(method, scheme, host, uri)
        return build_original(
            method,
            headers.get("x-forwarded-proto"),
            headers.get("x-forwarded-host"),
            headers.get("x-forwarded-uri"),
        )


class Traefik(Flavour):
    """Traefik `forwardAuth` and Caddy `forward_auth`: the original in X-Forwarded-*."""

    name = "traefik"
    carries_upstream_cookie = True

    def original(self, scope: Mapping[str, object], headers: Headers) -> OriginalRequest:
        return build_original(
            headers.get("x-forwarded-method"),
            headers.get("x-forwarded-proto"),
            headers.get("x-forwarded-host"),
            headers.get("x-forwarded-uri"),
        )


class Envoy(Flavour):
    """Envoy `ext_authz` (HTTP): the original method, `path_prefix` + path, and Host."""

    name = "envoy"
    prefix = b"/auth/envoy"

    def original(self, scope: Mapping[str, object], headers: Headers) -> OriginalRequest:
        raw = scope.get("raw_path")
        if not isinstance(raw, bytes) or not raw.startswith(self.prefix):
            raise BadProxyRequestError("ext_authz path does not carry the prefix")
        try:
            uri = raw[len(self.prefix) :].decode("ascii") or "/"
        except UnicodeDecodeError:
            raise BadProxyRequestError("the path holds raw non-ASCII bytes") from None
        query = scope.get("query_string")
        if isinstance(query, bytes) and query:
            try:
                uri = f"{uri}?{query.decode('ascii')}"
            except UnicodeDecodeError:
                raise BadProxyRequestError("the query holds raw non-ASCII bytes") from None
        method = scope.get("method")
        return build_original(
            method if isinstance(method, str) else None,
            headers.get("x-forwarded-proto", "http"),
            headers.get("host"),
            uri,
        )


FLAVOURS: dict[str, Flavour] = {"nginx": Nginx(), "traefik": Traefik(), "envoy": Envoy()}

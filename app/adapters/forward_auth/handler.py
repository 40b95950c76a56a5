"""The raw ASGI handler behind /auth/*: no router, no dependency injection on the hot path.

Per request: collect headers once, check the caller is a trusted proxy, extract the original
request (flavour), identify the user (cached tokens), read signals, ask the DecisionService,
add the signed assertion to an allow (cached), render, and write one decision log line.

`/auth/nginx/denied` is the same check asked again by nginx's `error_page 403` handler: its
answer is always a 403, with the refusal page for a browser (auth_request drops the body of
the check's own answer, so the page needs this second call).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import structlog

from app.adapters.forward_auth.assertion import Assertions
from app.adapters.forward_auth.deny_page import PLAIN_DENY, DenyPage
from app.adapters.forward_auth.flavours import (
    CANNOT_DECIDE,
    FLAVOURS,
    NO_STORE,
    Answer,
    Flavour,
    IdentityHeaders,
    Targets,
    is_api_client,
)
from app.adapters.forward_auth.identity_headers import encoded_identity
from app.adapters.forward_auth.original import BadProxyRequestError, OriginalRequest
from app.adapters.http_limits import MAX_HEADER_COUNT
from app.adapters.signals.client_ip import ForwardedHeaderError
from app.core.context import AccessContext, Identity, build_access_context
from app.core.decision import Decision, Effect
from app.services.decide import DecisionService
from app.services.ports import Identify, ReadSignals

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Headers whose repetition makes the original request ambiguous.
SINGLE = frozenset(
    {
        "host",
        "authorization",
        "x-original-url",
        "x-original-method",
        "x-forwarded-method",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-uri",
        "x-forwarded-for",
    }
)
#: The app-wide limit answers 431 first (app.web); this guards the handler used on its own.
MAX_HEADERS = MAX_HEADER_COUNT
#: Where nginx's `error_page 403` handler asks for the refusal page.
NGINX_PAGE_PATH = "/auth/nginx/denied"

log = structlog.get_logger("countersign.decision")


@dataclass(slots=True)
class ForwardAuth:
    """One instance per process, built by bootstrap."""

    decisions: DecisionService
    identify: Identify
    signals: ReadSignals
    is_trusted_peer: Callable[[str], bool]
    targets: Targets
    #: X-Countersign-Assertion on allow answers; None sends none.
    assertions: Assertions | None = None
    #: The refusal page for denied browsers; None answers them like API clients.
    deny_page: DenyPage | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        path: str = scope["path"]
        flavour = _flavour_for(path)
        page_call = path == NGINX_PAGE_PATH
        if flavour is None or (page_call and self.deny_page is None):
            await _send(send, Answer(404, [NO_STORE]))
            return
        client = scope.get("client")
        peer = client[0] if client else ""
        request_id = ""
        original: OriginalRequest | None = None
        identity: Identity | None = None
        token_problem: str | None = None
        try:
            headers = _collect(scope["headers"])
            request_id = _request_id(headers)
            if not self.is_trusted_peer(peer):
                raise BadProxyRequestError("the caller is not a trusted proxy")
            original = flavour.original(scope, headers)
            identity, token_problem = await self.identify(headers)
            signals = self.signals(peer, headers, identity)
        except (BadProxyRequestError, ForwardedHeaderError) as exc:
            await _send(
                send,
                Answer(
                    400,
                    [NO_STORE, (b"content-type", b"application/json")],
                    b'{"decision":"bad_request"}',
                ),
            )
            log.warning(
                "decision_made",
                request_id=request_id,
                proxy=flavour.name,
                peer=peer,
                effect="bad_request",
                problem=str(exc),
                latency_ms=round((perf_counter() - started) * 1000, 3),
            )
            return
        context = build_access_context(
            host=original.host,
            path=original.path,
            method=original.method,
            scheme=original.scheme,
            identity=identity,
            signals=signals,
            user_agent=headers.get("user-agent", ""),
        )
        decision = await self.decisions.decide(context)
        if page_call:
            answer = self._page(decision, identity, original, headers)
        else:
            decision, answer = self._answer(flavour, decision, identity, original, headers)
        await _send(send, answer)
        _log(
            decision,
            flavour=flavour,
            original=original,
            context=context,
            request_id=request_id,
            token_problem=token_problem,
            status=answer.status,
            started=started,
            page=page_call,
        )

    def _answer(
        self,
        flavour: Flavour,
        decision: Decision,
        identity: Identity | None,
        original: OriginalRequest,
        headers: Mapping[str, str],
    ) -> tuple[Decision, Answer]:
        """The check's answer (and the decision, which an allow's assertion may annotate)."""
        identity_headers = _identity_headers(decision, identity)
        if self.assertions is not None:
            decision, identity_headers = self.assertions.attach(
                decision, identity, identity_headers
            )
        page = self.deny_page
        answer = flavour.render(
            decision,
            original,
            headers,
            self.targets,
            identity_headers,
            page=None
            if page is None or decision.effect is not Effect.DENY
            else lambda: page.answer(decision, identity, original),
        )
        return decision, answer

    def _page(
        self,
        decision: Decision,
        identity: Identity | None,
        original: OriginalRequest,
        headers: Mapping[str, str],
    ) -> Answer:
        """nginx's second call: always a 403 (never an allow, whatever the decision is now);
        the page says why when the decision is still a deny, and only "refused" otherwise."""
        page = self.deny_page
        if page is None or is_api_client(headers):
            return PLAIN_DENY
        if decision.effect is Effect.DENY and not CANNOT_DECIDE.intersection(decision.reasons):
            return page.answer(decision, identity, original)
        return page.answer(None, identity, original)


def _flavour_for(path: str) -> Flavour | None:
    if path in ("/auth/nginx", NGINX_PAGE_PATH):
        return FLAVOURS["nginx"]
    if path == "/auth/traefik":
        return FLAVOURS["traefik"]
    if path == "/auth/envoy" or path.startswith("/auth/envoy/"):
        return FLAVOURS["envoy"]
    return None


def _collect(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    if len(raw) > MAX_HEADERS:
        raise BadProxyRequestError("too many headers")
    headers: dict[str, str] = {}
    for name_b, value_b in raw:
        name = name_b.decode("latin-1").lower()
        value = value_b.decode("latin-1")
        if name in headers:
            if name in SINGLE:
                raise BadProxyRequestError(f"header {name} is repeated")
            if name == "cookie":
                headers[name] = f"{headers[name]}; {value}"
            continue
        headers[name] = value
    return headers


#: Request ids: a random per-process prefix and a counter (no system call per request).
_ID_PREFIX = os.urandom(6).hex()
_ids = itertools.count(1)


def _request_id(headers: Mapping[str, str]) -> str:
    given = headers.get("x-request-id", "")
    if 0 < len(given) <= 64 and given.replace("-", "").isalnum() and given.isascii():
        return given
    return f"{_ID_PREFIX}{next(_ids):x}"


def _identity_headers(decision: Decision, identity: Identity | None) -> IdentityHeaders:
    if not decision.allowed or identity is None:
        return ()
    return encoded_identity(identity.user, identity.email or "", identity.groups)


async def _send(send: Send, answer: Answer) -> None:
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def _log(
    decision: Decision,
    *,
    flavour: Flavour,
    original: OriginalRequest,
    context: AccessContext,
    request_id: str,
    token_problem: str | None,
    status: int,
    started: float,
    page: bool = False,
) -> None:
    identity = context.identity
    log.info(
        # nginx's second call for the refusal page: the same decision, logged apart.
        "deny_page_served" if page else "decision_made",
        request_id=request_id,
        proxy=flavour.name,
        method=original.method,
        host=original.host,
        path=original.path,
        client_ip=str(context.client_ip) if context.client_ip else None,
        user=identity.user if identity else None,
        application=decision.application,
        policy=decision.policy,
        effect=decision.effect.value,
        reasons=[r.value for r in decision.reasons],
        identity_problem=token_problem,
        status=status,
        latency_ms=round((perf_counter() - started) * 1000, 3),
    )

"""The check, whatever the transport: trusted peer → original request → identity → signals →
decide → answer, and one decision log line.

A transport (the raw ASGI handler for nginx/Traefik/Caddy/Envoy HTTP, the gRPC servicer for
Envoy's ext_authz) turns what its proxy sent into a CheckRequest and writes the Answer back;
everything in between is here, once. Every failure before the decision is a 400 and never a
decision; every failure of the decision itself is the DecisionService's to fail closed. The
decision may come from the decision memo (memo.py, docs/adr/0012) when the policy lets it
depend on the identity and the application alone; every other step runs for every check.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from time import perf_counter

import structlog

from app.adapters.forward_auth.answers import (
    BAD_REQUEST,
    CANNOT_DECIDE,
    Answer,
    IdentityHeaders,
    Targets,
    answer_for,
    is_api_client,
)
from app.adapters.forward_auth.assertion import Assertions
from app.adapters.forward_auth.deny_page import PLAIN_DENY, DenyPage
from app.adapters.forward_auth.flavours.base import Flavour, Target
from app.adapters.forward_auth.identity_headers import encoded_identity
from app.adapters.forward_auth.memo import DecisionMemo
from app.adapters.forward_auth.original import (
    BadProxyRequestError,
    OriginalRequest,
    build_original,
)
from app.adapters.http_limits import MAX_HEADER_COUNT
from app.adapters.observability.decision_log import decision_log
from app.adapters.signals.client_ip import ForwardedHeaderError
from app.core.context import AccessContext, Identity, build_access_context
from app.core.decision import Decision, Effect
from app.services.decide import DecisionService
from app.services.ports import Identify, ReadSignals

log = structlog.get_logger("countersign.decision_memo")

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


@dataclass(slots=True)
class CheckRequest:
    """One check, as any transport describes it (not frozen: made per check, never changed,
    and a frozen dataclass costs twice the construction time)."""

    #: The address of the proxy that asks (the transport's peer), judged by is_trusted_peer.
    peer: str
    #: The original request's headers: lower-case names, one value each (see collect_headers).
    headers: Mapping[str, str]
    #: The original request as the proxy described it, before validation.
    target: Target
    request_id: str
    #: nginx's second call for the refusal page: always a 403, never an allow.
    page: bool = False


def collect_headers(pairs: Iterable[tuple[str, str]], *, count: int) -> dict[str, str]:
    """Lower-cased names, one value each: a repeated header that decides where the request
    goes or who sent it is ambiguous (400); repeated Cookie headers are joined; for any other
    header the first value counts."""
    if count > MAX_HEADER_COUNT:
        raise BadProxyRequestError("too many headers")
    headers: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.lower()
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


def request_id(headers: Mapping[str, str]) -> str:
    """The proxy's X-Request-Id when it is a plain token, else a new one."""
    given = headers.get("x-request-id", "")
    if 0 < len(given) <= 64 and given.replace("-", "").isalnum() and given.isascii():
        return given
    return f"{_ID_PREFIX}{next(_ids):x}"


@dataclass(slots=True)
class Checker:
    """One instance per process, built by bootstrap, shared by every transport."""

    decisions: DecisionService
    identify: Identify
    signals: ReadSignals
    is_trusted_peer: Callable[[str], bool]
    targets: Targets
    #: X-Countersign-Assertion on allow answers; None sends none.
    assertions: Assertions | None = None
    #: The refusal page for denied browsers; None answers them like API clients.
    deny_page: DenyPage | None = None
    #: Decisions reused while they provably hold (docs/adr/0012); None decides every time.
    memo: DecisionMemo | None = None

    async def check(self, flavour: Flavour, request: CheckRequest, started: float) -> Answer:
        """The whole pipeline; `started` is when the transport received the check."""
        headers = request.headers
        try:
            if not self.is_trusted_peer(request.peer):
                raise BadProxyRequestError("the caller is not a trusted proxy")
            original = build_original(*request.target)
            identity, token_problem = await self.identify(headers)
            signals = self.signals(request.peer, headers, identity)
        except (BadProxyRequestError, ForwardedHeaderError) as exc:
            return refuse(flavour, request.peer, request.request_id, str(exc), started)
        context = build_access_context(
            host=original.host,
            path=original.path,
            method=original.method,
            scheme=original.scheme,
            identity=identity,
            signals=signals,
            user_agent=headers.get("user-agent", ""),
        )
        decision = await self._decide(context)
        if request.page:
            answer = self._page(decision, identity, original, headers)
        else:
            decision, answer = self._answer(flavour, decision, identity, original, headers)
        _log(
            decision,
            flavour=flavour,
            context=context,
            request_id=request.request_id,
            token_problem=token_problem,
            status=answer.status,
            started=started,
            page=request.page,
        )
        return answer

    async def _decide(self, context: AccessContext) -> Decision:
        """The remembered decision when the memo has one that holds, else a new one (which
        the memo keeps if it may). A memo that fails is skipped: the decision is then made."""
        memo = self.memo
        if memo is None:
            return await self.decisions.decide(context)
        try:
            known = memo.recall(context)
        except Exception:  # the memo is an optimisation: never a reason not to decide
            log.exception("decision_memo_failed")
            known = None
        if known is not None:
            return known
        decision = await self.decisions.decide(context)
        try:
            memo.remember(context, decision)
        except Exception:
            log.exception("decision_memo_failed")
        return decision

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
        answer = answer_for(
            flavour,
            decision,
            original=original,
            headers=headers,
            targets=self.targets,
            identity_headers=identity_headers,
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


def refuse(flavour: Flavour, peer: str, request_id: str, problem: str, started: float) -> Answer:
    """A check that cannot be trusted: 400, logged with why, and no decision."""
    decision_log.warning(
        "decision_made",
        {
            "request_id": request_id,
            "proxy": flavour.name,
            "peer": peer,
            "effect": "bad_request",
            "problem": problem,
            "latency_ms": round((perf_counter() - started) * 1000, 3),
        },
    )
    return BAD_REQUEST


def _identity_headers(decision: Decision, identity: Identity | None) -> IdentityHeaders:
    if not decision.allowed or identity is None:
        return ()
    return encoded_identity(identity.user, identity.email or "", identity.groups)


def _log(
    decision: Decision,
    *,
    flavour: Flavour,
    context: AccessContext,
    request_id: str,
    token_problem: str | None,
    status: int,
    started: float,
    page: bool = False,
) -> None:
    decision_log.decided(
        # nginx's second call for the refusal page: the same decision, logged apart.
        "deny_page_served" if page else "decision_made",
        {
            "request_id": request_id,
            "proxy": flavour.name,
            "application": decision.application,
            "policy": decision.policy,
            # Enums and a tuple as they are: the decision log writes them by value.
            "effect": decision.effect,
            "reasons": decision.reasons,
            "identity_problem": token_problem,
            "status": status,
            "latency_ms": round((perf_counter() - started) * 1000, 3),
        },
        # Every input the core judged (docs/adr/0013), so the line can be replayed.
        context,
    )

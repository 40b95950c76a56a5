"""The `Idempotency-Key` header of /api/v1 (draft-ietf-httpapi-idempotency-key-header): a client
that did not get an answer retries with the same key and gets the outcome of its first attempt,
whatever became of it, instead of a second effect or a 409 (docs/adr/0009-idempotency-keys.md).

A dependency of every state-changing route reserves the key for the authenticated caller and
the operation before the endpoint runs (or answers with the stored outcome, or refuses); the
route class hands the answer back to `settle`, which stores it or gives the key up.
"""

# No `from __future__ import annotations`: FastAPI reads the guard's annotations at runtime,
# and they name the authentication dependency built in the factory's scope.

import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

import structlog
from fastapi import Depends, Header, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from app.adapters.api.v1.problems import ProblemError
from app.adapters.store.idempotency import Claim, Outcome, Reservation, Verdict
from app.core.approvals import ApprovalError, Category
from app.services.errors import NotVisibleError, ScopeError
from app.services.principal import Principal

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY = 255
#: Visible ASCII (VCHAR, `!` to `~`), 1 to 255 characters; opaque, compared exactly.
KEY_PATTERN = r"^[!-~]{1,255}$"
DESCRIPTION = (
    "Makes a retry safe. Send a new unique value (a UUID) with each new call, and the same"
    " value, with the same method, path, query and body, when you retry a call whose answer"
    " you did not get. For `COUNTERSIGN_IDEMPOTENCY_TTL` (24 hours by default) the retry"
    " answers with the outcome of the first attempt (the same status and body, and"
    " `Idempotent-Replayed: true`); after a 5xx it runs again, and a change the failed attempt"
    " did make is answered as done, not as a 409. Keys belong to one caller and one operation."
    " 400 `bad-idempotency-key`: not 1 to 255 visible ASCII characters;"
    " 409 `idempotency-key-in-flight`: the first attempt is still running (see Retry-After);"
    " 422 `idempotency-key-reused`: the key was used for a different request;"
    " 503 `store-unavailable`: the key cannot be reserved now, and the call did not run."
)
#: The header as one reusable OpenAPI parameter (`as_reusable_parameter`).
PARAMETER_NAME = "IdempotencyKey"
PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": DESCRIPTION,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY, "pattern": KEY_PATTERN},
    "example": "5f0c3a2e-8d7b-4c59-9a61-0b6f4e2d7c18",
}
#: Response headers a replay repeats; the rest are per response (cache-control is re-added).
_KEPT_HEADERS = frozenset({"content-type", "location", "allow"})
_STATE = "idempotency_attempt"
_STORE_DOWN = ("store-unavailable", "the store cannot answer right now; try again")
T = TypeVar("T")

log = structlog.get_logger("countersign.api")


class IdempotencyStore(Protocol):
    """Where keys are reserved and outcomes kept (adapters.store.idempotency)."""

    async def reserve(self, scope: Sequence[str], key: str, fingerprint: str) -> Reservation: ...
    async def complete(self, claim: Claim, outcome: Outcome) -> bool: ...
    async def abandon(self, claim: Claim, *, forget: bool) -> bool: ...


class ReplayError(Exception):
    """The key's outcome is stored: the route class answers with it instead of running."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"replay of a {outcome.status} answer")
        self.outcome = outcome

    def response(self) -> Response:
        """The stored answer again, marked as a replay."""
        headers = dict(self.outcome.headers)
        headers.update({REPLAYED_HEADER.lower(): "true", "cache-control": "no-store"})
        return Response(self.outcome.body, status_code=self.outcome.status, headers=headers)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a state-changing call. `claim` is None without a key; `follows_unknown`
    says an earlier attempt with this key and request ended without a known outcome, so its
    change may already be in the store."""

    store: IdempotencyStore | None = None
    claim: Claim | None = None
    follows_unknown: bool = False

    async def settled(
        self,
        refused: ApprovalError,
        load: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
    ) -> T:
        """The record to answer with instead of `refused`, when this call retries an attempt
        whose outcome is unknown, the refusal is a conflict (the state has moved on), and the
        record shows the caller's own change (`done`): the first attempt took effect.
        Otherwise `refused` stands."""
        if not self.follows_unknown or refused.category is not Category.CONFLICT:
            raise refused
        try:
            record = await load()
        except (NotVisibleError, ScopeError):
            raise refused from None
        if not done(record):
            raise refused
        log.info("api_retry_settled", code=refused.code.value)
        return record

    async def finish(self, response: Response, *, ran: bool) -> None:
        """Keep the answer for retries, or give the key up (see `worth_keeping`)."""
        if self.store is None or self.claim is None:
            return
        body = getattr(response, "body", None)
        status = response.status_code
        try:
            if ran and isinstance(body, bytes) and worth_keeping(status):
                kept = tuple(
                    (name, value)
                    for name, value in response.headers.items()
                    if name.lower() in _KEPT_HEADERS
                )
                await self.store.complete(self.claim, Outcome(status, kept, body))
            else:
                # Nothing changed when the endpoint never ran or asked for a fresh sign-in:
                # forget a new key. After a 5xx the outcome is unknown: keep the record.
                changed_nothing = not ran or status == 401
                await self.store.abandon(self.claim, forget=self.claim.fresh and changed_nothing)
        except RedisError as error:
            # The lease runs out by itself; a retry then runs again as after a 5xx.
            log.warning("api_idempotency_not_settled", problem=type(error).__name__)


def worth_keeping(status: int) -> bool:
    """Successes and refusals are deterministic for the request that got them; a 401 (sign in
    again) and a 5xx (try again) are not answers to repeat."""
    return 200 <= status < 300 or (400 <= status < 500 and status != 401)


def caller_scope(principal: Principal) -> tuple[str, ...]:
    """Whose keys these are: the person (issuer, subject), the service token, or both when the
    token acts for a person; nobody else's key can reach their outcomes."""
    parts: tuple[str, ...] = ()
    if principal.identity is not None:
        parts = ("person", principal.identity.issuer, principal.identity.subject)
    if principal.token is not None:
        parts = ("token", principal.token, *parts)
    return parts


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What "the same request" means: method, path, query string and body, byte for byte."""
    framed = json.dumps(
        [method, path, query, hashlib.sha256(body).hexdigest()], separators=(",", ":")
    )
    return hashlib.sha256(framed.encode()).hexdigest()


def idempotency_guard(
    *,
    store: IdempotencyStore | None,
    authenticate: Callable[..., Awaitable[Principal]],
) -> Callable[..., Awaitable[Attempt]]:
    """The dependency of every state-changing route. Without a key the call runs as always;
    with one it runs only once reserved (a store that cannot answer means 503, never a run
    without the reservation)."""

    async def guard(
        request: Request,
        principal: Annotated[Principal, Depends(authenticate)],
        key: Annotated[
            str | None,
            Header(alias=HEADER, description=DESCRIPTION),
        ] = None,
    ) -> Attempt:
        if key is None:
            return Attempt()
        given = request.headers.getlist(HEADER)
        if len(given) != 1 or re.fullmatch(KEY_PATTERN, key) is None:
            raise ProblemError(
                400,
                "bad-idempotency-key",
                f"send one {HEADER} of 1 to 255 visible ASCII characters",
            )
        if store is None:
            raise ProblemError(503, *_STORE_DOWN, headers={"retry-after": "1"})
        body = await request.body()
        scope = (*caller_scope(principal), _operation(request))
        try:
            found = await store.reserve(
                scope, key, fingerprint(request.method, request.url.path, request.url.query, body)
            )
        except RedisError as error:
            log.warning("api_store_unavailable", problem=type(error).__name__)
            raise ProblemError(503, *_STORE_DOWN, headers={"retry-after": "1"}) from error
        attempt = _attempt(found, store)
        setattr(request.state, _STATE, attempt)
        return attempt

    return guard


def _attempt(found: Reservation, store: IdempotencyStore) -> Attempt:
    if found.verdict is Verdict.DONE and found.outcome is not None:
        raise ReplayError(found.outcome)
    if found.verdict is Verdict.MISMATCH:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            f"this {HEADER} was used for a different request; use a new key for a new call",
        )
    if found.verdict is Verdict.BUSY or found.claim is None:
        wait = found.busy_for.total_seconds() if found.busy_for is not None else 1.0
        raise ProblemError(
            409,
            "idempotency-key-in-flight",
            f"a call with this {HEADER} is still running; retry later",
            headers={"retry-after": str(max(1, math.ceil(wait)))},
        )
    return Attempt(store, found.claim, follows_unknown=found.verdict is Verdict.RETRY)


def _operation(request: Request) -> str:
    # The route's template, not the concrete path: one key used on two records is a reuse.
    route: Any = request.scope.get("route")
    template = getattr(route, "path", None) or request.url.path
    return f"{request.method} {template}"


async def settle(request: Request, response: Response, *, ran: bool) -> None:
    """Called by the route class with the answer of every /api/v1 call: the keyed ones store
    it or give their key up. `ran` is False when the endpoint never ran (invalid input)."""
    attempt = getattr(request.state, _STATE, None)
    if isinstance(attempt, Attempt):
        await attempt.finish(response, ran=ran)


def as_reusable_parameter(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the header stated once, under components.parameters, and
    referred to by every operation that takes it."""
    reference = {"$ref": f"#/components/parameters/{PARAMETER_NAME}"}
    used = False
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            for index, parameter in enumerate(parameters):
                if parameter.get("in") == "header" and parameter.get("name") == HEADER:
                    parameters[index] = dict(reference)
                    used = True
    if used:
        components = document.setdefault("components", {})
        components.setdefault("parameters", {})[PARAMETER_NAME] = dict(PARAMETER)
    return document

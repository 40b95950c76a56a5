"""POST /api/v1/policies/impact: what a proposed policy set would change, replayed on the
decisions the service recorded (COUNTERSIGN_DECISION_CAPTURE) or on decisions posted with it.

Admins only. Sizes are bounded: the body by the route class (64 KiB), the files and posted
decisions by the models, the capture by reading only its most recent MAX_CAPTURE_BYTES. The
replay runs in a worker thread so the event loop keeps serving checks meanwhile.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and they name the authentication dependency built in the factory's scope.

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.adapters.api.v1.auth import require_admin
from app.adapters.api.v1.impact_models import ImpactBody, ImpactOut
from app.adapters.api.v1.problems import FieldProblem, ProblemError, problem_responses
from app.adapters.observability.decision_log import decision_log
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.errors import PolicyCompileError
from app.core.policy.policy_set import PolicySet
from app.services.impact import Tally, replay, report_dict
from app.services.principal import Principal

#: How much of the capture file's end is replayed (about 100,000 decisions).
MAX_CAPTURE_BYTES = 64 * 1024 * 1024
#: Policy errors listed in a refusal.
MAX_LISTED = 50


def add_impact_routes(
    router: APIRouter,
    *,
    policies: Callable[[], PolicySet],
    capture: Path | None,
    authenticate: Callable[..., Awaitable[Principal]],
    idempotent: Callable[..., Awaitable[object]],
) -> None:
    """Register the endpoint; `capture` is the service's capture file (None: none)."""
    caller = Annotated[Principal, Depends(authenticate)]
    tags: list[str | Enum] = ["administration"]

    @router.post(
        "/policies/impact",
        operation_id="policyImpact",
        summary="Who would gain or lose access under a proposed policy set",
        response_model=ImpactOut,
        responses=problem_responses(400, 403, 409, 413),
        dependencies=[Depends(idempotent)],
        tags=tags,
    )
    async def policy_impact(body: ImpactBody, principal: caller) -> ImpactOut:
        require_admin(principal)
        proposed = _compile([Source(f.path, f.text) for f in body.files])
        tally = Tally(policies(), proposed)
        if body.decisions is not None:
            tally.add_records(d.record() for d in body.decisions)
            source = "posted"
        elif capture is not None:
            decision_log.flush()
            await asyncio.to_thread(_read_capture, tally, capture)
            source = "capture"
        else:
            raise ProblemError(
                409,
                "no-recorded-decisions",
                "this service captures no decisions (COUNTERSIGN_DECISION_CAPTURE is unset): "
                "post the decisions to replay",
            )
        report = await asyncio.to_thread(_report, tally)
        return ImpactOut.model_validate({"source": source, **report})


def _compile(sources: list[Source]) -> PolicySet:
    """The proposed set, or 422 with every error in its place."""
    try:
        return compile_policy_set(sources)
    except PolicyCompileError as exc:
        errors = sorted(exc.errors)
        raise ProblemError(
            422,
            "invalid-policy",
            f"the proposed policy set does not compile: {errors[0]}"[:500]
            if errors
            else "the proposed policy set does not compile",
            errors=[
                FieldProblem(
                    location=f"{e.file}:{e.line}:{e.column} {e.path}",
                    message=e.message[:200],
                    type=str(e.code),
                )
                for e in errors[:MAX_LISTED]
            ],
        ) from None


def _read_capture(tally: Tally, capture: Path) -> None:
    """Fold the capture's most recent decisions in; a missing file holds none yet."""
    try:
        tally.add_lines(_tail(capture, MAX_CAPTURE_BYTES))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ProblemError(
            503, "capture-unreadable", f"the decision capture cannot be read: {exc.strerror}"
        ) from None


def _tail(path: Path, limit: int) -> Iterator[bytes]:
    """The whole lines of the last `limit` bytes of `path`."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - limit))
        if size > limit:
            handle.readline()  # the first line read may be cut: start at the next
        yield from handle


def _report(tally: Tally) -> dict[str, Any]:
    return report_dict(replay(tally), tally)

"""The route class of /api/v1: every answer that is not a success is a problem document.

Routers cannot install exception handlers, and the rest of the service (forward-auth, the
dev login, /readyz) keeps its own error shapes, so the mapping lives in the route: the body is
bounded, then the endpoint runs, and anything it raises becomes problem+json. The answer then
goes to `idempotency.settle`, which keeps it for a keyed call's retries.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Message

from app.adapters.api.v1.idempotency import ReplayError, settle
from app.adapters.api.v1.problems import ProblemError, render, to_problem

#: Requests larger than this are refused with 413 before they are parsed.
MAX_BODY_BYTES = 64 * 1024


class BodyTooLargeError(HTTPException):
    """The client sent more than MAX_BODY_BYTES."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")


class ProblemRoute(APIRoute):
    """An APIRoute whose errors, its dependencies' included, are problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: bound the body, map every exception, settle the key."""
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            ran = True
            try:
                response = await handler(_bounded(request))
            except ReplayError as replay:  # the key's first attempt already answered
                return replay.response()
            except Exception as exc:  # every failure becomes a problem document
                # Invalid input is refused before the endpoint runs: nothing happened.
                ran = not isinstance(exc, RequestValidationError)
                response = render(to_problem(exc))
            # Records name people and their access: no cache keeps a copy.
            response.headers.setdefault("cache-control", "no-store")
            await settle(request, response, ran=ran)
            return response

        return guarded


def _bounded(request: Request) -> Request:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ProblemError(400, "bad-request", "Content-Length is not a number")
        if int(declared) > MAX_BODY_BYTES:
            raise BodyTooLargeError
    receive = request.receive
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise BodyTooLargeError
        return message

    return Request(request.scope, limited)


def add_fallback(router: APIRouter) -> None:
    """Answer unknown paths and methods under the router's prefix with a problem too; call it
    after every other route is added."""

    async def fallback(request: Request) -> Response:
        allowed = sorted(
            method
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint is not fallback
            for method in route.methods or ()
            if route.matches(request.scope)[0] is Match.PARTIAL
        )
        if allowed:
            raise ProblemError(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed here",
                headers={"allow": ", ".join(allowed)},
            )
        raise ProblemError(404, "no-such-endpoint", "no endpoint has this path")

    router.add_api_route(
        "/{rest:path}",
        fallback,
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )

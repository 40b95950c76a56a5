"""`POST /slack/interactions`: Slack's interactivity request URL.

Unauthenticated except for Slack's signature, so the order is fixed: refuse a body over
MAX_BODY (413) without reading past it, check the signature and its timestamp on the raw body
(401), and only then parse. Slack wants an answer within three seconds: the endpoint answers
at once (an empty 200, which also closes the deny modal) and acts on the interaction right
after, then updates the message through its response URL.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, BackgroundTasks, FastAPI, Request, Response

from app.adapters.api.v1.problems import ProblemError, problem_responses, render
from app.adapters.slack.interactions import SlackInteractions
from app.adapters.slack.payloads import Interaction, PayloadError, interaction, payload_of
from app.adapters.slack.people import SlackPeople
from app.adapters.slack.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from app.adapters.slack.web_api import SlackWebApi
from app.adapters.step_up import StepUpLinks
from app.config import SettingsError
from app.config.slack import SlackSettings
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService

log = structlog.get_logger("countersign.slack")

PATH = "/slack/interactions"
#: The largest interaction accepted: a block_actions payload carries the whole message.
MAX_BODY = 256 * 1024
#: Time allowed for each Slack Web API call.
SLACK_TIMEOUT = 5.0

_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {
                        "payload": {
                            "type": "string",
                            "description": "Slack's interaction payload (JSON): block_actions "
                            "of a request's message, or view_submission of the deny modal.",
                        }
                    },
                }
            }
        },
    }
}


def _problems() -> dict[int | str, dict[str, Any]]:
    """The refusals, documented as problems; this endpoint answers no 422 or 503."""
    documented = problem_responses(400, 401, 413)
    for status in (422, 503):
        documented.pop(status, None)
    documented[400]["description"] = "Not an interaction payload (`slack-payload-invalid`)"
    documented[401]["description"] = "Missing, forged or stale signature"
    documented[413]["description"] = "Body larger than 256 KiB (`body-too-large`)"
    return documented


def _refuse(status: int, code: str, detail: str, *, close: bool = False) -> Response:
    """A refusal as an RFC 9457 problem, like the API's."""
    headers = {"connection": "close"} if close else None
    return render(ProblemError(status, code, detail, headers=headers))


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is larger than `limit` (not read any further)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def slack_router(
    settings: SlackSettings,
    *,
    approvals: ApprovalService,
    policies: Callable[[], PolicySet],
    links: StepUpLinks,
    now: Callable[[], float] = time.time,
) -> APIRouter:
    """The interactivity endpoint (the caller includes it only when `settings.enabled`)."""
    if settings.signing_secret is None or settings.bot_token is None:
        raise SettingsError(
            (
                "COUNTERSIGN_SLACK_BOT_TOKEN",
                "required with COUNTERSIGN_SLACK_SIGNING_SECRET (users are looked up with it)",
            )
        )
    secret = settings.signing_secret.get_secret_value().encode()
    client = httpx.AsyncClient(timeout=httpx.Timeout(SLACK_TIMEOUT), follow_redirects=False)
    api = SlackWebApi(
        client=client, api_url=settings.api_url, bot_token=settings.bot_token.get_secret_value()
    )
    handler = SlackInteractions(
        api=api,
        people=SlackPeople(api, ttl=settings.user_cache_ttl),
        approvals=approvals,
        policies=policies,
        links=links,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    router = APIRouter(lifespan=lifespan)
    _add_endpoint(router, secret=secret, handle=handler.handle, now=now)
    return router


def documented_router() -> APIRouter:
    """The endpoint as the OpenAPI document shows it (built, never served)."""

    async def never(action: Interaction) -> None:
        raise RuntimeError(f"the OpenAPI builder does not act on {type(action).__name__}")

    router = APIRouter()
    _add_endpoint(router, secret=b"", handle=never, now=time.time)
    return router


def _add_endpoint(
    router: APIRouter,
    *,
    secret: bytes,
    handle: Callable[[Interaction], Awaitable[None]],
    now: Callable[[], float],
) -> None:
    """Register POST PATH on `router`: size, then signature, then parse, then act."""

    @router.post(
        PATH,
        operation_id="slackInteraction",
        summary="Slack's interactivity endpoint: Approve and Deny from a request's message",
        description=(
            "Called by Slack only. The request must carry a valid `X-Slack-Signature` over"
            " `v0:<X-Slack-Request-Timestamp>:<body>` (HMAC-SHA256 with the app's signing"
            " secret), sent within 5 minutes; the body is at most 256 KiB. The answer is an"
            " empty 200 at once; the review follows, and the message is updated in place."
        ),
        tags=["slack"],
        status_code=200,
        response_class=Response,
        responses={
            200: {"description": "Accepted (the review follows)"},
            **_problems(),
        },
        openapi_extra=_FORM,
    )
    async def interact(request: Request, background: BackgroundTasks) -> Response:
        body = await _body(request, MAX_BODY)
        if body is None:
            return _refuse(413, "body-too-large", f"at most {MAX_BODY} bytes", close=True)
        if not verify(
            secret,
            timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
            signature=request.headers.get(SIGNATURE_HEADER, ""),
            body=body,
            now=now(),
        ):
            log.warning("slack_signature_refused")
            return _refuse(401, "slack-signature-invalid", "missing, forged or stale signature")
        try:
            action = interaction(payload_of(body))
        except PayloadError as error:
            log.info("slack_payload_refused", problem=str(error))
            return _refuse(400, "slack-payload-invalid", "not an interaction payload")
        if action is not None:
            background.add_task(handle, action)
        return Response(status_code=200)

"""Acting on a verified Slack interaction: the same review as the API, then the message
updated in place for everyone in the channel.

The presser becomes a person (app.adapters.slack.people) and acts through the approval
service exactly as through the API: visibility, eligibility, no self-review, quorum and
step-up are judged there and again on the stored record, atomically with the audit entry.
The review is recorded as coming through Slack (`via_token` `slack:<team>`, so the audit
entry and the API name it). Every refusal is told only to the presser (an ephemeral message)
and logged with its code; nothing about a request is shown to someone who may not see it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from app.adapters.slack.controls import controls_for
from app.adapters.slack.payloads import (
    ApprovePress,
    DenyPress,
    DenySubmit,
    Interaction,
    Presser,
    deny_modal,
)
from app.adapters.slack.people import NotAPersonError, SlackPeople
from app.adapters.slack.web_api import SlackApiError, SlackWebApi
from app.adapters.step_up import StepUpLinks
from app.core.approvals import AccessRequest, ApprovalError, ErrorCode, StepUpRequiredError
from app.core.notify.slack_outcome import outcome_message
from app.core.policy.policy_set import PolicySet
from app.services.approvals import ApprovalService
from app.services.errors import NotVisibleError, ScopeError
from app.services.principal import Principal

log = structlog.get_logger("countersign.slack")

#: What the presser is told, by refusal code.
_TOLD = {
    "slack-user-inactive": "Your Slack account cannot review requests.",
    "slack-user-without-email": "Countersign cannot see an e-mail address on your Slack profile.",
    "slack-email-unconfirmed": "The e-mail address of your Slack profile is not confirmed.",
    "slack-user-unknown": "Countersign's Slack app cannot see your Slack account.",
    "slack-unavailable": "Countersign could not ask Slack who you are; try again.",
    "not-found": "You may not review this request (or it no longer exists).",
    ErrorCode.SELF_APPROVAL.value: "You cannot review your own request.",
    ErrorCode.NOT_AN_APPROVER.value: "You are not an approver of this request.",
    ErrorCode.REQUEST_NOT_PENDING.value: "This request was already decided.",
    ErrorCode.REQUEST_EXPIRED.value: "This request has expired.",
    ErrorCode.POLICY_MISMATCH.value: "The policy changed since this request was made.",
}


#: Slack's answers to users.info that mean "no such user" (not "try again").
_NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})


class SlackInteractions:
    """One per process: the people cache, the Web API and the approval service."""

    def __init__(
        self,
        *,
        api: SlackWebApi,
        people: SlackPeople,
        approvals: ApprovalService,
        policies: Callable[[], PolicySet],
        links: StepUpLinks,
    ) -> None:
        self._api = api
        self._people = people
        self._approvals = approvals
        self._policies = policies
        self._links = links

    async def handle(self, action: Interaction) -> None:
        """Carry out one interaction; never raises (Slack has had its answer already)."""
        try:
            match action:
                case DenyPress():
                    await self._api.open_view(
                        action.trigger_id, deny_modal(action.request_id, action.response_url)
                    )
                case ApprovePress():
                    await self._review(action, action.duration, None)
                case DenySubmit():
                    await self._review(action, None, action.reason)
        except SlackApiError as error:
            log.warning("slack_call_failed", problem=str(error))
        except Exception:  # Slack has its answer: log, tell the presser, never raise
            log.exception("slack_interaction_failed")
            await self._try_tell(action, "Countersign could not record this; try again.")

    async def _try_tell(self, action: Interaction, text: str) -> None:
        """Tell the presser, when Slack can be reached at all."""
        message = {"response_type": "ephemeral", "replace_original": False, "text": text}
        try:
            await self._api.respond(action.response_url, message)
        except SlackApiError as error:
            log.warning("slack_call_failed", problem=str(error))

    async def _review(
        self, action: ApprovePress | DenySubmit, duration: timedelta | None, reason: str | None
    ) -> None:
        """Approve (with `duration`) or deny (with `reason`) as the presser."""
        try:
            principal = await self._principal(action.presser)
            if isinstance(action, ApprovePress):
                request = await self._approvals.approve(
                    principal, action.request_id, duration=duration, comment=None
                )
            else:
                request = await self._approvals.deny(principal, action.request_id, comment=reason)
        except StepUpRequiredError as error:
            link = self._links.sign_in_to_review(
                action.request_id, mfa=error.mfa, max_age=error.max_age
            )
            await self._tell(action, f"This policy needs a fresh sign-in: <{link}|review here>.")
            self._refused(action, error.code.value)
            return
        except ApprovalError as error:
            await self._tell(action, _TOLD.get(error.code.value, f"Refused: {error.code.value}."))
            self._refused(action, error.code.value)
            return
        except NotAPersonError as error:
            await self._tell(action, _TOLD[error.reason])
            self._refused(action, error.reason)
            return
        except (NotVisibleError, ScopeError):
            await self._tell(action, _TOLD["not-found"])
            self._refused(action, "not-found")
            return
        await self._api.respond(action.response_url, self._outcome(request))

    async def _principal(self, presser: Presser) -> Principal:
        """The presser as the approval service's caller: a person, through Slack."""
        try:
            identity = await self._people.person(presser.team_id, presser.user_id)
        except SlackApiError as error:
            if error.code in _NO_SUCH_USER:
                raise NotAPersonError("slack-user-unknown") from None
            log.warning("slack_call_failed", problem=str(error))
            raise NotAPersonError("slack-unavailable") from None
        return Principal(
            identity=identity,
            token=f"slack:{presser.team_id}",
            scopes=frozenset({"requests:review"}),
        )

    def _outcome(self, request: AccessRequest) -> dict[str, object]:
        """The updated message: where the request stands, with controls while pending."""
        policies = self._policies()
        app = policies.applications.get(request.application)
        return outcome_message(
            request,
            application_name=app.name if app else request.application,
            link=self._links.review_page(request.id),
            review=controls_for(request, policies, self._links),
        )

    async def _tell(self, action: ApprovePress | DenySubmit, text: str) -> None:
        """Tell only the presser (the channel's message stays as it is)."""
        message = {"response_type": "ephemeral", "replace_original": False, "text": text}
        await self._api.respond(action.response_url, message)

    @staticmethod
    def _refused(action: ApprovePress | DenySubmit, code: str) -> None:
        log.info(
            "slack_review_refused",
            request_id=action.request_id,
            slack_team=action.presser.team_id,
            slack_user=action.presser.user_id,
            code=code,
        )

"""The Slack sender of an interactive channel (`interactive: true`): the incoming-webhook
message, plus Approve/Deny controls on messages for approvers.

The controls come from the request record and the policy in force when the message is sent
(app.adapters.slack.controls); a request already decided, or gone, gets the plain message.
Errors name the status or exception class, never the URL (the webhook URL is a credential).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from app.adapters.http_errors import cause
from app.adapters.notify.base import DeliveryError
from app.adapters.slack.controls import controls_for
from app.adapters.step_up import StepUpLinks
from app.config.channels import SlackChannel
from app.core.approvals import RequestStatus
from app.core.notify import Delivery, Notice, slack_message
from app.core.notify.slack import SlackReview
from app.core.notify.wording import for_approvers
from app.core.policy.policy_set import PolicySet
from app.services.notifications import RecordReader


class InteractiveSlackSender:
    """Posts to a Slack incoming webhook of the app whose interactivity URL is Countersign."""

    def __init__(
        self,
        *,
        url: str,
        client: httpx.AsyncClient,
        records: RecordReader,
        policies: Callable[[], PolicySet],
        links: StepUpLinks,
    ) -> None:
        self._url = url
        self._client = client
        self._records = records
        self._policies = policies
        self._links = links

    async def _controls(self, notice: Notice) -> SlackReview | None:
        if notice.request_id is None or not for_approvers(notice):
            return None
        request = await self._records.load_request(notice.request_id)
        if request is None or request.status is not RequestStatus.PENDING:
            return None
        return controls_for(request, self._policies(), self._links)

    async def send(self, notice: Notice, delivery: Delivery, *, delivery_id: str) -> None:
        """POST the message, with the review controls when it asks for a decision."""
        del delivery, delivery_id
        message = slack_message(notice, review=await self._controls(notice))
        body = json.dumps(message, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Countersign"}
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryError(cause(error).replace(self._url, "the receiver")) from None
        if not response.is_success:
            raise DeliveryError(f"HTTP {response.status_code}")


def interactive_senders(
    client: httpx.AsyncClient,
    *,
    records: RecordReader,
    policies: Callable[[], PolicySet],
    links: StepUpLinks,
) -> Callable[[SlackChannel], InteractiveSlackSender]:
    """Makes the sender of each interactive Slack channel (for the notifier's build_sender)."""

    def build(channel: SlackChannel) -> InteractiveSlackSender:
        return InteractiveSlackSender(
            url=channel.url.get_secret_value(),
            client=client,
            records=records,
            policies=policies,
            links=links,
        )

    return build

"""Who hears what: each channel's rule (its topics and applications, and for e-mail whom to
write to) applied to one notice gives the deliveries to make, one per channel.

Approvers are reached through channels configured for their application: a group cannot be
enumerated, so only approvers the policy lists by e-mail are written to directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.core.notify.notice import Notice
from app.core.notify.topics import AUDIENCES, ESCALATED_TOPICS, LOUD, Audience, Topic
from app.core.policy.model import Approval


class ChannelKind(StrEnum):
    """How a channel delivers."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    SMTP = "smtp"


@dataclass(frozen=True, slots=True)
class Route:
    """One channel's rule. `applications` None means every application."""

    channel: str
    kind: ChannelKind
    topics: frozenset[Topic]
    applications: frozenset[str] | None = None
    to: tuple[str, ...] = ()
    notify_requester: bool = False
    notify_approvers: bool = False

    def wants(self, notice: Notice) -> bool:
        """Whether this channel hears about `notice` at all."""
        return self.wants_topic(notice.topic, notice.application)

    def wants_topic(self, topic: Topic, application: str) -> bool:
        """Whether this channel hears about `topic` for `application`."""
        if topic not in self.topics and topic not in LOUD:
            return False
        return self.applications is None or application in self.applications


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send on one channel; `recipients` are e-mail addresses (e-mail only)."""

    channel: str
    kind: ChannelKind
    recipients: tuple[str, ...] = ()


def approver_emails(approval: Approval | None, *, topic: Topic | None = None) -> tuple[str, ...]:
    """The approvers a policy names by e-mail address, in the order written; for an
    escalation (ESCALATED_TOPICS), its fallback approvers (`escalate_to`) after them."""
    if approval is None:
        return ()
    listed = list(approval.approvers)
    if topic in ESCALATED_TOPICS and approval.escalation is not None:
        listed += approval.escalation.to
    return tuple(dict.fromkeys(a.value for a in listed if a.kind == "email"))


def route(
    notice: Notice, routes: Iterable[Route], *, approvers: Sequence[str] = ()
) -> tuple[Delivery, ...]:
    """The deliveries `notice` causes, in the order the channels are configured. A requester is
    never written to as an approver of their own request."""
    deliveries = []
    for rule in routes:
        if not rule.wants(notice):
            continue
        if rule.kind is not ChannelKind.SMTP:
            deliveries.append(Delivery(rule.channel, rule.kind))
            continue
        recipients = _recipients(notice, rule, approvers)
        if recipients:
            deliveries.append(Delivery(rule.channel, rule.kind, recipients))
    return tuple(deliveries)


def _recipients(notice: Notice, rule: Route, approvers: Sequence[str]) -> tuple[str, ...]:
    audience = AUDIENCES[notice.topic]
    requester = (notice.requester_email or "").casefold()
    wanted = list(rule.to)
    if rule.notify_requester and audience is Audience.REQUESTER and requester:
        wanted.append(notice.requester_email or "")
    if rule.notify_approvers and audience is Audience.APPROVERS:
        wanted += [a for a in approvers if a.casefold() != requester]
    unique: dict[str, str] = {}
    for address in wanted:
        unique.setdefault(address.casefold(), address)
    return tuple(unique.values())

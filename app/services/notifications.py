"""Planning notifications: for one trigger from the outbox, gather the notice (from the records
and the current policy set) and the deliveries each channel should make.

No sending here: the notifier in adapters.notify delivers what this plans, and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.approvals import AccessRequest, Grant
from app.core.notify import (
    Delivery,
    Notice,
    Route,
    Topic,
    Trigger,
    approver_emails,
    build_notice,
    route,
)
from app.core.policy.policy_set import PolicySet


class RecordReader(Protocol):
    """The records a notice is gathered from (the workflow store provides them)."""

    async def load_request(self, request_id: str) -> AccessRequest | None: ...
    async def load_grant(self, grant_id: str) -> Grant | None: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What one trigger causes: the notice and one delivery per channel that hears of it.

    `order_key` groups deliveries that must arrive in order (those of one request)."""

    notice: Notice
    deliveries: tuple[Delivery, ...]
    order_key: str

    def delivery_for(self, channel: str) -> Delivery | None:
        """This plan's delivery on `channel`, if it has one."""
        return next((d for d in self.deliveries if d.channel == channel), None)


class NotificationPlanner:
    """One per process; reads the policy set each time, so reloads apply at once."""

    def __init__(
        self,
        *,
        policies: Callable[[], PolicySet],
        records: RecordReader,
        routes: Sequence[Route],
        public_url: str,
    ) -> None:
        self._policies = policies
        self._records = records
        self._routes = tuple(routes)
        self._public_url = public_url

    @property
    def routes(self) -> tuple[Route, ...]:
        """The configured channels' rules."""
        return self._routes

    def wants(self, topic: Topic) -> bool:
        """Whether any channel hears about `topic` (no channel: no need to look for it)."""
        return any(topic in r.topics for r in self._routes)

    async def plan(self, trigger: Trigger) -> Plan:
        """The notice for `trigger` and its deliveries (none when no channel wants it)."""
        if not any(r.wants_topic(trigger.topic, trigger.application) for r in self._routes):
            notice = build_notice(
                trigger,
                request=None,
                grant=None,
                application_name=None,
                public_url=self._public_url,
            )
            return Plan(notice, (), trigger.order_key)
        request = (
            await self._records.load_request(trigger.request_id) if trigger.request_id else None
        )
        grant = await self._records.load_grant(trigger.grant_id) if trigger.grant_id else None
        app = self._policies().applications.get(trigger.application)
        notice = build_notice(
            trigger,
            request=request,
            grant=grant,
            application_name=app.name if app else None,
            public_url=self._public_url,
        )
        policy_name = request.policy if request else grant.policy if grant else None
        policy = app.policy_named(policy_name) if app and policy_name else None
        approvers = approver_emails(policy.approval if policy else None, topic=trigger.topic)
        return Plan(notice, route(notice, self._routes, approvers=approvers), trigger.order_key)

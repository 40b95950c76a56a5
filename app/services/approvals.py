"""The second opinion as a service: ask for access, review, cancel, revoke, list, and expire.

Each operation loads what it needs, finds the policy in the current policy set, and hands a
pure transition from app.core.approvals to the store, which applies it atomically with its
audit and outbox entries. Visibility: a request is shown to its requester, to the approvers
its policy lists, and to admins; anyone else gets "not found" (app.core.approvals.visibility,
the rule the pages use too). A person is (issuer, subject): "mine", "my own request" and "my
own grant" compare that, never the e-mail.

The parts live by responsibility: asking (`asking`), reviewing, cancelling and revoking
(`resolving`), extending a grant (`extending`), reading and listing (`reading`); storage is
reached only through the ports (services.ports: WorkflowStore, Listings), which own keys,
indexes and cursors.
"""

from __future__ import annotations

from app.core import approvals as core
from app.services.asking import AccessOutcome, Asking
from app.services.extending import Extending
from app.services.ports import Page
from app.services.reading import Reading
from app.services.resolving import TOKEN_ISSUER
from app.services.workflow import announce, new_id

__all__ = ["TOKEN_ISSUER", "AccessOutcome", "ApprovalService", "Page", "announce", "new_id"]


class ApprovalService(Asking, Extending, Reading):
    """One per process; holds no state of its own. Built with `policies` (the current policy
    set), `store` (a WorkflowStore), `listings` (Listings) and `clock`."""

    async def sweep(self) -> tuple[int, int]:
        """Expire pending requests past pending_ttl and grants past their end, even if nobody
        looks at them. Safe to run on every replica at once. Returns (requests, grants)."""
        now = self._clock()
        expired_requests = expired_grants = 0
        for request_id in await self._store.due_requests(now):
            try:
                result = await self._store.update_request(
                    request_id, lambda current: core.expire_request(current, now=now)
                )
            except LookupError:  # the record is gone; the store has dropped it from the index
                continue
            announce(result.events)
            expired_requests += result.changed
        for grant_id in await self._store.due_grants(now):
            try:
                grant_result = await self._store.update_grant(
                    grant_id, lambda current: core.expire_grant(current, now=now)
                )
            except LookupError:
                continue
            announce(grant_result.events)
            expired_grants += grant_result.changed
        return expired_requests, expired_grants

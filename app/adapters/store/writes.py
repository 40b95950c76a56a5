"""What one transition writes inside its MULTI: the record, the hot path's access keys, the
listing and sweeping indexes, the audit entries and the outbox entries (docs/adr/0002).

Terminal records keep their key until the end of the retention; live ones never expire on
their own. An access key is deleted only while it still names this record, since a newer
request or grant may already have taken its place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from app.adapters.store import audit
from app.adapters.store.emergency_writes import queue_break_glass, queue_escalation
from app.adapters.store.keys import (
    ACTIVE_GRANTS_INDEX,
    GRANTS_INDEX,
    OUTBOX_KEY,
    PENDING_INDEX,
    REQUESTS_INDEX,
    application_grants_index,
    extension_key,
    grant_key,
    grant_record_key,
    justified_key,
    legacy_pair_keys,
    open_request_key,
    person_grants_index,
    person_requests_index,
    request_key,
    user_grants_index,
)
from app.core.approvals import (
    AccessRequest,
    Event,
    Grant,
    GrantKind,
    GrantStatus,
    GrantTransition,
    RequestStatus,
    RequestTransition,
)

OUTBOX_MAXLEN = 100_000

# Deletes the pair key only when it names this grant (a newer one may have replaced it).
# Runs inside the MULTI, after the WATCH on the same key.
_DELETE_IF_OURS = """
local value = redis.call('GET', KEYS[1])
if value and string.find(value, '"id": "' .. ARGV[1] .. '"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Deletes the open-request key only when it holds this request's id.
_DELETE_IF_VALUE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Writes:
    """Queues the writes of transitions on a MULTI pipeline; terminal records are kept for
    `retention` after they end."""

    def __init__(self, retention: timedelta) -> None:
        self._retention = retention

    def request(self, pipe: Any, transition: RequestTransition, head: audit.Head) -> None:
        """A request's new state, the grant it issued (if any), and its events."""
        request = transition.request
        key = request_key(request.id)
        pipe.set(key, json.dumps(request.to_dict()))
        created = request.created_at.timestamp()
        pipe.zadd(REQUESTS_INDEX, {request.id: created})
        requester = request.requester.person
        if requester is not None:
            pipe.zadd(person_requests_index(requester), {request.id: created})
        open_key = open_key_of(request)
        if request.status is RequestStatus.PENDING:
            pipe.persist(key)
            pipe.zadd(PENDING_INDEX, {request.id: request.expires_at.timestamp()})
            pipe.set(open_key, request.id, pxat=_ms(request.expires_at))
        else:
            pipe.expireat(
                key, _retention_end(request.resolved_at or request.expires_at, self._retention)
            )
            pipe.zrem(PENDING_INDEX, request.id)
            # A newer request may already be the open one (this one ran out before the sweep
            # expired it): remove the open key only if it still names this request.
            pipe.eval(_DELETE_IF_VALUE, 1, open_key, request.id)
        queue_escalation(pipe, request)
        if transition.grant is not None:
            self._put_grant(pipe, transition.grant, _written_at(transition.events))
        queue_events(pipe, head, transition.events)

    def grant(self, pipe: Any, transition: GrantTransition, head: audit.Head) -> None:
        """A grant's new state and its events."""
        self._put_grant(pipe, transition.grant, _written_at(transition.events))
        queue_events(pipe, head, transition.events)

    def _put_grant(self, pipe: Any, grant: Grant, written_at: float) -> None:
        key = grant_record_key(grant.id)
        pipe.set(key, json.dumps(grant.to_dict()))
        pipe.zadd(GRANTS_INDEX, {grant.id: grant.starts_at.timestamp()})
        pipe.zadd(user_grants_index(grant.user), {grant.id: grant.starts_at.timestamp()})
        holder = grant.holder
        if holder is not None:
            pipe.zadd(person_grants_index(holder), {grant.id: grant.starts_at.timestamp()})
        queue_break_glass(pipe, grant)
        app_index = application_grants_index(grant.application)
        pair = pair_key_of(grant)
        if grant.status is GrantStatus.ACTIVE:
            pipe.persist(key)
            pipe.zadd(ACTIVE_GRANTS_INDEX, {grant.id: grant.expires_at.timestamp()})
            pipe.zadd(app_index, {grant.id: grant.expires_at.timestamp()})
            # "id" first: _DELETE_IF_OURS looks for it; "policy" lets the reader re-check scope;
            # "starts_at" keeps a planned window shut until it begins (ADR 0017). A window that
            # has not begun names its end "ends_at": a replica of a release before windows
            # requires "expires_at", so during a rolling upgrade it reads no grant (fail
            # closed) instead of opening the window early.
            end = "ends_at" if grant.starts_at.timestamp() > written_at else "expires_at"
            value = json.dumps(
                {
                    "id": grant.id,
                    end: grant.expires_at.timestamp(),
                    "policy": grant.policy_fingerprint,
                    "starts_at": grant.starts_at.timestamp(),
                }
            )
            pipe.set(pair, value, pxat=_ms(grant.expires_at))
        else:
            pipe.expireat(
                key, _retention_end(grant.revoked_at or grant.expires_at, self._retention)
            )
            pipe.zrem(ACTIVE_GRANTS_INDEX, grant.id)
            pipe.zrem(app_index, grant.id)
            # The pair key may already name a newer grant: remove it only if it is this one.
            pipe.eval(_DELETE_IF_OURS, 1, pair, grant.id)


def _written_at(events: Sequence[Event]) -> float:
    """When a transition happened: the time of its events (the wall clock if it has none)."""
    return max((event.at.timestamp() for event in events), default=time.time())


def queue_events(pipe: Any, head: audit.Head, recorded: Sequence[Event]) -> None:
    """The audit entries of `recorded`, chained onto `head`, and one outbox entry each."""
    bodies = [event.to_dict() for event in recorded]
    entries, new_head = audit.chain(head, bodies)
    audit.queue_append(pipe, entries, new_head)
    for body in bodies:
        pipe.xadd(
            OUTBOX_KEY, {"event": audit.canonical(body)}, maxlen=OUTBOX_MAXLEN, approximate=True
        )


def pair_key_of(grant: Grant) -> str:
    """The access key that names `grant` on the hot path.

    An older grant (no holder or fingerprint) lives under the legacy key, which is still
    deleted when it ends so that replicas of the previous release stop honouring it too."""
    holder, scope = grant.holder, grant.scope
    approval = grant.kind is not GrantKind.JUSTIFICATION  # break-glass takes the grant slot
    if holder is None or scope is None:
        legacy_grant, _, legacy_justified = legacy_pair_keys(grant.user, grant.application)
        return legacy_grant if approval else legacy_justified
    return grant_key(holder, scope) if approval else justified_key(holder, scope)


def open_key_of(request: AccessRequest) -> str:
    """The access key that names `request` while it is open: an extension's is per grant, so
    it never stands for "a request is open" on the hot path."""
    if request.extends is not None:
        return extension_key(request.extends)
    requester, scope = request.requester.person, request.scope
    if requester is None or scope is None:
        return legacy_pair_keys(request.user, request.application)[1]
    return open_request_key(requester, scope)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _retention_end(moment: datetime, retention: timedelta) -> int:
    return int((moment + retention).timestamp())

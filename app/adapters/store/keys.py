"""The Redis key layout (docs/adr/0002-redis-key-layout.md, 0006-grants-bound-to-policy.md).

Every key carries the hash tag `{cs}`: a transition writes the request, the grant, the hot
path's access keys, the indexes, the audit entry and the outbox entry in one MULTI, which Redis
Cluster allows only within one slot. Names inside keys are digests: user names may hold `{`,
`}` or `:` and must not be able to steer a key into another namespace.

The hot path's keys are per person (issuer, subject) and scope (application, policy
fingerprint): a grant under one policy is never read when another policy matches. The
`legacy_*` keys are the earlier per (user name, application) layout, still deleted when an
old grant or request ends, never read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.core.approvals.person import Person, Scope

PREFIX = "cs:{cs}"
AUDIT_KEY = f"{PREFIX}:audit"
AUDIT_HEAD_KEY = f"{PREFIX}:audit:head"
#: The retention checkpoint of the audit log: what the trimmed part ended with (ADR 0004).
AUDIT_CHECKPOINT_KEY = f"{PREFIX}:audit:checkpoint"
OUTBOX_KEY = f"{PREFIX}:outbox"
#: request id → expires_at, for PENDING requests (sweeper, "to review")
PENDING_INDEX = f"{PREFIX}:idx:pending"
#: request id → created_at, every request (listing, retention)
REQUESTS_INDEX = f"{PREFIX}:idx:requests"
#: grant id → expires_at, for ACTIVE grants (sweeper, listings)
ACTIVE_GRANTS_INDEX = f"{PREFIX}:idx:grants:active"
#: grant id → starts_at, every grant (listing, retention)
GRANTS_INDEX = f"{PREFIX}:idx:grants"
#: request id → when it escalates, for PENDING requests not yet escalated (ADR 0016)
ESCALATION_INDEX = f"{PREFIX}:idx:escalation"
#: grant id → review_due_at, for break-glass grants awaiting their review (gauges, listings)
BREAK_GLASS_UNREVIEWED_INDEX = f"{PREFIX}:idx:break-glass:unreviewed"
#: grant id → review_due_at, for unreviewed break-glass grants not yet reported overdue
BREAK_GLASS_OVERDUE_INDEX = f"{PREFIX}:idx:break-glass:due"
#: Every listing index, global or per person/user/application, matches this glob.
INDEX_PATTERN = f"{PREFIX}:idx:*"
#: Where index trimming resumes: index name (or "scan") → position (ADR 0010).
RETENTION_CURSOR_KEY = f"{PREFIX}:retention:cursor"


def digest(*parts: str) -> str:
    """A short, collision-resistant name for user-supplied parts."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def tag(*parts: str) -> str:
    """A digest of several parts that no choice of parts can make ambiguous (JSON-framed)."""
    framed = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(framed.encode()).hexdigest()[:32]


def access_tag(person: Person, scope: Scope) -> str:
    """The name of one (person, application, policy fingerprint) inside keys."""
    return tag(person.issuer, person.subject, scope.application, scope.policy)


def access_keys(person: Person, scope: Scope) -> tuple[str, str, str]:
    """Grant, open request and justification keys, in that order, for one MGET."""
    base = f"{PREFIX}:access:{access_tag(person, scope)}:"
    return base + "grant", base + "open", base + "justified"


def grant_key(person: Person, scope: Scope) -> str:
    """JSON of the active grant: {id, expires_at, policy}; the key's TTL ends with the grant."""
    return access_keys(person, scope)[0]


def open_request_key(person: Person, scope: Scope) -> str:
    """The id of the open (pending) request; TTL is the request's pending_ttl."""
    return access_keys(person, scope)[1]


def justified_key(person: Person, scope: Scope) -> str:
    """JSON of the justified session: {id, expires_at, policy}; TTL ends with it."""
    return access_keys(person, scope)[2]


def extension_key(grant_id: str) -> str:
    """The id of the open request to extend one grant; TTL is that request's pending time."""
    return f"{PREFIX}:ext:{grant_id}"


def legacy_pair_keys(user: str, application: str) -> tuple[str, str, str]:
    """The earlier per (user name, application) keys: grant, open request, justification."""
    base = f"{PREFIX}:pair:{digest(user, application)}:"
    return base + "grant", base + "open", base + "justified"


def request_key(request_id: str) -> str:
    """JSON of one access request."""
    return f"{PREFIX}:req:{request_id}"


def grant_record_key(grant_id: str) -> str:
    """JSON of one grant."""
    return f"{PREFIX}:grant:{grant_id}"


def person_requests_index(person: Person) -> str:
    """request id → created_at, for one requester ("mine")."""
    return f"{PREFIX}:idx:person:{tag(person.issuer, person.subject)}:requests"


def person_grants_index(person: Person) -> str:
    """grant id → starts_at, for one holder ("mine")."""
    return f"{PREFIX}:idx:person:{tag(person.issuer, person.subject)}:grants"


def user_grants_index(user: str) -> str:
    """grant id → starts_at, by the holder's display name (the `user=` filter of listings)."""
    return f"{PREFIX}:idx:user:{digest(user)}:grants"


def application_grants_index(application: str) -> str:
    """grant id → expires_at, ACTIVE grants of one application."""
    return f"{PREFIX}:idx:app:{digest(application)}:grants"


@dataclass(frozen=True, slots=True)
class IndexShape:
    """What an index lists and what its scores mean, for retention: `record` names the key of
    a listed id; `scored_by_end` is true when a score is when the record's live state ends
    (pending, active) rather than when it began (created, started)."""

    record: Callable[[str], str]
    scored_by_end: bool


_REQUESTS = IndexShape(request_key, scored_by_end=False)
_GRANTS = IndexShape(grant_record_key, scored_by_end=False)
_GLOBAL_SHAPES = {
    REQUESTS_INDEX: _REQUESTS,
    PENDING_INDEX: IndexShape(request_key, scored_by_end=True),
    GRANTS_INDEX: _GRANTS,
    ACTIVE_GRANTS_INDEX: IndexShape(grant_record_key, scored_by_end=True),
    ESCALATION_INDEX: IndexShape(request_key, scored_by_end=True),
    BREAK_GLASS_UNREVIEWED_INDEX: IndexShape(grant_record_key, scored_by_end=True),
    BREAK_GLASS_OVERDUE_INDEX: IndexShape(grant_record_key, scored_by_end=True),
}
#: The global listing indexes and their shapes.
GLOBAL_INDEXES: Mapping[str, IndexShape] = MappingProxyType(_GLOBAL_SHAPES)
_OWN_INDEX = re.compile(
    r"^" + re.escape(PREFIX) + r":idx:(person|user|app):[0-9a-f]{32}:(requests|grants)$"
)


def index_shape(index: str) -> IndexShape | None:
    """The shape of a listing index named `index`, or None for any other key."""
    shape = _GLOBAL_SHAPES.get(index)
    if shape is not None:
        return shape
    found = _OWN_INDEX.match(index)
    if found is None:
        return None
    owner, listed = found.groups()
    if listed == "requests":
        return _REQUESTS if owner == "person" else None
    if owner == "app":  # ACTIVE grants of one application, scored by expires_at
        return IndexShape(grant_record_key, scored_by_end=True)
    return _GRANTS

"""The Redis key layout (docs/adr/0002-redis-key-layout.md).

Every key carries the hash tag `{cs}`: a transition writes the request, the grant, the hot
path's pair keys, the indexes, the audit entry and the outbox entry in one MULTI, which Redis
Cluster allows only within one slot. Names inside keys are digests: user names may hold `{`,
`}` or `:` and must not be able to steer a key into another namespace.
"""

from __future__ import annotations

import hashlib

PREFIX = "cs:{cs}"
AUDIT_KEY = f"{PREFIX}:audit"
AUDIT_HEAD_KEY = f"{PREFIX}:audit:head"
OUTBOX_KEY = f"{PREFIX}:outbox"
#: request id → expires_at, for PENDING requests (sweeper, "to review")
PENDING_INDEX = f"{PREFIX}:idx:pending"
#: request id → created_at, every request (listing, retention)
REQUESTS_INDEX = f"{PREFIX}:idx:requests"
#: grant id → expires_at, for ACTIVE grants (sweeper, listings)
ACTIVE_GRANTS_INDEX = f"{PREFIX}:idx:grants:active"
#: grant id → starts_at, every grant (listing, retention)
GRANTS_INDEX = f"{PREFIX}:idx:grants"


def digest(*parts: str) -> str:
    """A short, collision-resistant name for user-supplied parts."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def pair_tag(user: str, application: str) -> str:
    """The name of one (user, application) pair inside keys."""
    return digest(user, application)


def pair_keys(user: str, application: str) -> tuple[str, str, str]:
    """Grant, open request and justification keys, in that order, for one MGET."""
    base = f"{PREFIX}:pair:{pair_tag(user, application)}:"
    return base + "grant", base + "open", base + "justified"


def grant_key(user: str, application: str) -> str:
    """JSON of the active grant: {id, expires_at}; the key's TTL ends with the grant."""
    return pair_keys(user, application)[0]


def open_request_key(user: str, application: str) -> str:
    """The id of the open (pending) request; TTL is the request's pending_ttl."""
    return pair_keys(user, application)[1]


def justified_key(user: str, application: str) -> str:
    """JSON of the justified session: {id, expires_at}; TTL ends with it."""
    return pair_keys(user, application)[2]


def request_key(request_id: str) -> str:
    """JSON of one access request."""
    return f"{PREFIX}:req:{request_id}"


def grant_record_key(grant_id: str) -> str:
    """JSON of one grant."""
    return f"{PREFIX}:grant:{grant_id}"


def user_requests_index(user: str) -> str:
    """request id → created_at, for one requester ("mine")."""
    return f"{PREFIX}:idx:user:{digest(user)}:requests"


def user_grants_index(user: str) -> str:
    """grant id → starts_at, for one user."""
    return f"{PREFIX}:idx:user:{digest(user)}:grants"


def application_grants_index(application: str) -> str:
    """grant id → expires_at, ACTIVE grants of one application."""
    return f"{PREFIX}:idx:app:{digest(application)}:grants"


class RedisIndexes:
    """The listing indexes, as services.approvals.Indexes wants them."""

    requests = REQUESTS_INDEX
    pending = PENDING_INDEX
    grants = GRANTS_INDEX
    active_grants = ACTIVE_GRANTS_INDEX

    def user_requests(self, user: str) -> str:
        """Requests by one user."""
        return user_requests_index(user)

    def user_grants(self, user: str) -> str:
        """Grants of one user."""
        return user_grants_index(user)

    def application_grants(self, application: str) -> str:
        """Active grants of one application."""
        return application_grants_index(application)

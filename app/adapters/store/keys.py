"""The Redis key layout (see docs/adr/0002-redis-key-layout.md).

Every key about one (user, application) pair shares a hash tag, so a read of all of them is
one MGET on one Cluster slot. The tag is a digest of the pair: user names may hold `{`, `}` or
`:` and must not be able to steer a key into another pair's namespace.
"""

from __future__ import annotations

import hashlib

PREFIX = "cs"


def pair_tag(user: str, application: str) -> str:
    """The hash tag for one (user, application) pair."""
    digest = hashlib.sha256(f"{user}\x00{application}".encode()).hexdigest()[:24]
    return "{" + digest + "}"


def grant_key(user: str, application: str) -> str:
    """JSON of the active grant: {id, expires_at}; the key's TTL ends with the grant."""
    return f"{PREFIX}:pair:{pair_tag(user, application)}:grant"


def open_request_key(user: str, application: str) -> str:
    """The id of the open (pending) request; TTL is the request's pending_ttl."""
    return f"{PREFIX}:pair:{pair_tag(user, application)}:open"


def justified_key(user: str, application: str) -> str:
    """The end of the justified session (epoch seconds); TTL ends with it."""
    return f"{PREFIX}:pair:{pair_tag(user, application)}:justified"


def pair_keys(user: str, application: str) -> tuple[str, str, str]:
    """Grant, open request and justification keys, in that order, for one MGET."""
    tag = pair_tag(user, application)
    base = f"{PREFIX}:pair:{tag}:"
    return base + "grant", base + "open", base + "justified"

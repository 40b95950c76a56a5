"""Who is calling the API: a signed-in person, a service token, or a token acting for one."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.context import Identity
from app.services.errors import ScopeError

#: What a service token may be allowed: read requests and grants, ask for access (and extend,
#: withdraw) for the person it acts for, review, revoke, read the audit log.
SCOPES = frozenset(
    {"requests:read", "requests:create", "requests:review", "grants:revoke", "audit:read"}
)


@dataclass(frozen=True, slots=True)
class Principal:
    """`identity` is the human (None for a token acting alone); `token` the service token name.

    A person signed in with their own token may do what their identity allows; a service token
    may do only what its scopes allow, and only for the human it names, if any.
    """

    identity: Identity | None
    token: str | None = None
    scopes: frozenset[str] = frozenset()
    is_admin: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names whoever acted."""
        if self.token is None:
            return self.identity.user if self.identity else "anonymous"
        if self.identity is None:
            return f"token:{self.token}"
        return f"{self.identity.user} via token:{self.token}"

    def require(self, scope: str) -> None:
        """Refuse a service token without `scope` (people are judged by the policies)."""
        if self.token is not None and scope not in self.scopes:
            raise ScopeError(f"the service token lacks the {scope} scope")

    def human(self) -> Identity:
        """The person acting; a token acting alone cannot review or ask for access."""
        if self.identity is None:
            raise ScopeError(
                "this call needs a person: send the user's token with the service token"
            )
        return self.identity

"""Sign-ins in progress, kept in Redis between /login and /login/callback.

Replicas are stateless: whichever one receives the callback finds the flow by its `state`.
Taking a flow deletes it in the same command (GETDEL), so a replayed callback, or a second
use of the same code, finds nothing. Keys carry the `{cs}` hash tag and a digest of the state,
never the state itself; they expire with the flow (10 minutes).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from app.adapters.store.keys import PREFIX, digest

FLOW_TTL_SECONDS = 600


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """What /login remembers for the callback. `binding` is the SHA-256 (hex) of the random
    value in the browser's binding cookie, never the value itself."""

    nonce: str
    code_verifier: str
    binding: str
    rd: str
    started_at: int
    prompt: str | None = None
    max_age: int | None = None
    mfa: bool = False

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> PendingSignIn:
        """The stored form read back; ValueError for anything else."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a pending sign-in")
        try:
            pending = cls(**data)
        except TypeError as error:
            raise ValueError("not a pending sign-in") from error
        if not all(isinstance(getattr(pending, name), str) for name in _TEXT_FIELDS):
            raise ValueError("not a pending sign-in")
        return pending


_TEXT_FIELDS = ("nonce", "code_verifier", "binding", "rd")


def flow_key(state: str) -> str:
    """The key of the flow started with `state`."""
    return f"{PREFIX}:signin:flow:{digest(state)}"


class SignInFlows:
    """Save a flow under its state; take it back exactly once."""

    def __init__(self, redis: Any, *, ttl: int = FLOW_TTL_SECONDS) -> None:
        self._redis = redis
        self._ttl = ttl

    async def save(self, state: str, pending: PendingSignIn) -> None:
        """Remember `pending` until the callback or the TTL."""
        await self._redis.set(flow_key(state), pending.to_json(), ex=self._ttl)

    async def take(self, state: str) -> PendingSignIn | None:
        """The flow, deleted in the same step; None when unknown, used or expired."""
        raw = await self._redis.getdel(flow_key(state))
        if raw is None:
            return None
        try:
            return PendingSignIn.from_json(raw)
        except ValueError:
            return None

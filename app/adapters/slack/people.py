"""Who pressed a button: a Slack user, as a person Countersign can judge.

Only the user id from the signed payload is used (never the name it also carries): users.info
gives the e-mail of the Slack profile, which must be present, and confirmed when Slack says
whether it is; bots and deactivated users are nobody. The person is
`(urn:countersign:slack:<team>, <user id>)` with that e-mail and no groups (Slack vouches for
no group): policies list Slack approvers by e-mail, and self-review is refused by e-mail as
for every other person (docs/adr/0015-slack-approvals.md).

Answers are remembered for `ttl` in a bounded cache (at most `size` users, oldest dropped
first), so a burst of presses makes one users.info call; a user whose e-mail changes or who is
deactivated is seen within `ttl`. Refusals are not remembered.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from app.adapters.slack.web_api import SlackUser
from app.core.context import Identity

#: The issuer of people known through Slack; the team id follows.
SLACK_ISSUER = "urn:countersign:slack:"
DEFAULT_CACHE_SIZE = 1000


class UserDirectory(Protocol):
    """Where a Slack user's profile comes from (SlackWebApi in production)."""

    async def user(self, user_id: str) -> SlackUser: ...


class NotAPersonError(Exception):
    """The Slack user cannot act as a person: `reason` is a short, loggable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Entry:
    identity: Identity
    until: float


def identity_of(team_id: str, user: SlackUser) -> Identity:
    """The person a Slack user is, or NotAPersonError."""
    if user.deleted or user.is_bot:
        raise NotAPersonError("slack-user-inactive")
    if user.email is None or "@" not in user.email:
        raise NotAPersonError("slack-user-without-email")
    if user.email_confirmed is False:
        raise NotAPersonError("slack-email-unconfirmed")
    return Identity(subject=user.id, email=user.email.lower(), issuer=SLACK_ISSUER + team_id)


class SlackPeople:
    """Maps (team, user id) to a person, through `directory`, cached."""

    def __init__(
        self,
        directory: UserDirectory,
        *,
        ttl: timedelta,
        size: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl = ttl.total_seconds()
        self._size = size
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def person(self, team_id: str, user_id: str) -> Identity:
        """The person behind `user_id` of `team_id` (NotAPersonError if none; SlackApiError
        when Slack cannot be asked)."""
        key = (team_id, user_id)
        now = self._clock()
        entry = self._cache.get(key)
        if entry is not None and now < entry.until:
            self._cache.move_to_end(key)
            return entry.identity
        self._cache.pop(key, None)
        identity = identity_of(team_id, await self._directory.user(user_id))
        self._cache[key] = _Entry(identity, now + self._ttl)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return identity

    def __len__(self) -> int:
        return len(self._cache)

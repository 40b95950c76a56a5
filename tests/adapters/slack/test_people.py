"""Mapping a Slack user to a person: by the confirmed e-mail users.info gives, cached for the
TTL in a bounded cache; refusals are not remembered. Slack here is a counting stand-in
directory (the HTTP client itself is covered against the stand-in server)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from app.adapters.slack.people import SLACK_ISSUER, NotAPersonError, SlackPeople, identity_of
from app.adapters.slack.web_api import SlackUser

TTL = timedelta(minutes=10)


@dataclass
class Directory:
    """users.info as a dict, counting lookups."""

    users: dict[str, SlackUser] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def user(self, user_id: str) -> SlackUser:
        self.asked.append(user_id)
        return self.users[user_id]


@dataclass
class Ticks:
    """A monotonic clock the test moves."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def bob(
    email: str | None = "Bob@Example.com",
    *,
    confirmed: bool | None = True,
    deleted: bool = False,
    is_bot: bool = False,
) -> SlackUser:
    """BOB's Slack profile."""
    return SlackUser("U0BOB", email, confirmed, deleted, is_bot)


def test_a_slack_user_is_a_person_of_the_slack_issuer_with_the_lowercased_email() -> None:
    """(slack issuer + team, user id), with the profile's e-mail in lower case, no groups."""
    identity = identity_of("T1", bob())
    assert (identity.issuer, identity.subject) == (SLACK_ISSUER + "T1", "U0BOB")
    assert identity.email == "bob@example.com"
    assert identity.groups == frozenset()
    assert identity.amr == frozenset()


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (bob(email=None), "slack-user-without-email"),
        (bob(email="not-an-address"), "slack-user-without-email"),
        (bob(confirmed=False), "slack-email-unconfirmed"),
        (bob(deleted=True), "slack-user-inactive"),
        (bob(is_bot=True), "slack-user-inactive"),
    ],
)
def test_who_is_nobody(user: SlackUser, reason: str) -> None:
    """No e-mail, an unconfirmed one, a deactivated user or a bot: no person."""
    with pytest.raises(NotAPersonError) as refused:
        identity_of("T1", user)
    assert refused.value.reason == reason


def test_an_email_slack_does_not_qualify_is_taken() -> None:
    """When users.info does not say whether the e-mail is confirmed, it is taken."""
    assert identity_of("T1", bob(confirmed=None)).email == "bob@example.com"


def test_the_answer_is_cached_for_the_ttl() -> None:
    """Within the TTL one lookup serves every press; after it, Slack is asked again and a
    changed e-mail is seen."""
    directory, ticks = Directory({"U0BOB": bob()}), Ticks()
    people = SlackPeople(directory, ttl=TTL, clock=ticks)

    async def story() -> None:
        await people.person("T1", "U0BOB")
        ticks.now += TTL.total_seconds() - 1
        await people.person("T1", "U0BOB")
        assert directory.asked == ["U0BOB"]
        directory.users["U0BOB"] = bob(email="robert@example.com")
        ticks.now += 1
        assert (await people.person("T1", "U0BOB")).email == "robert@example.com"
        assert directory.asked == ["U0BOB", "U0BOB"]

    asyncio.run(story())


def test_refusals_are_not_cached() -> None:
    """A user refused once (no e-mail yet) is asked about again on the next press."""
    directory = Directory({"U0BOB": bob(email=None)})
    people = SlackPeople(directory, ttl=TTL, clock=Ticks())

    async def story() -> None:
        for _ in range(2):
            with pytest.raises(NotAPersonError):
                await people.person("T1", "U0BOB")
        assert directory.asked == ["U0BOB", "U0BOB"]
        assert len(people) == 0

    asyncio.run(story())


def test_the_cache_is_bounded() -> None:
    """Past `size` users, the least recently used is dropped first."""
    users = {f"U{n}": SlackUser(f"U{n}", f"u{n}@example.com", True, False, False) for n in range(5)}
    directory = Directory(users)
    people = SlackPeople(directory, ttl=TTL, size=3, clock=Ticks())

    async def story() -> None:
        for n in range(5):
            await people.person("T1", f"U{n}")
        assert len(people) == 3
        await people.person("T1", "U4")  # still cached
        await people.person("T1", "U0")  # dropped: asked again
        assert directory.asked == ["U0", "U1", "U2", "U3", "U4", "U0"]

    asyncio.run(story())


def test_the_same_user_id_in_another_workspace_is_another_person() -> None:
    """The cache is keyed by team and user: T2's U0BOB is looked up, and is not T1's."""
    directory = Directory({"U0BOB": bob()})
    people = SlackPeople(directory, ttl=TTL, clock=Ticks())

    async def story() -> None:
        one = await people.person("T1", "U0BOB")
        two = await people.person("T2", "U0BOB")
        assert one.issuer != two.issuer
        assert directory.asked == ["U0BOB", "U0BOB"]

    asyncio.run(story())

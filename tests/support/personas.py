"""The people of the end-to-end scenarios, and their dev tokens."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.countersign import RunningCountersign

#: email → groups. ALICE the engineer, BOB the SRE lead, MALLORY the contractor.
ALICE = ("alice@example.com", ("engineers",))
BOB = ("bob@example.com", ("admins", "leads"))
MALLORY = ("mallory@example.com", ("contractors",))


@dataclass(frozen=True, slots=True)
class Tokens:
    """A dev token per persona."""

    alice: str
    bob: str
    mallory: str


def mint_tokens(countersign: RunningCountersign) -> Tokens:
    """Mint one token per persona with `countersign token mint`."""
    alice, bob, mallory = (
        countersign.mint(email=email, groups=groups) for email, groups in (ALICE, BOB, MALLORY)
    )
    return Tokens(alice=alice, bob=bob, mallory=mallory)

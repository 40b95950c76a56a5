"""The audit events of a replica's policy set: loaded at start, reloaded, reload rejected.

Each names the set in force after it (`digest`, see core.policy.digest, and the `version` that
/readyz shows), the replica that loaded it (every replica loads the files and writes its own
entry) and what set it off. Pure: the time and the replica's name are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.core.approvals.events import DataValue, Event, EventType
from app.core.policy.digest import SetChanges, set_digest
from app.core.policy.errors import PolicyError
from app.core.policy.policy_set import PolicySet

#: A refusal's problem is a one-line summary; the located errors go to the logs and /readyz.
MAX_PROBLEM_CHARS = 200


class ReloadTrigger(StrEnum):
    """What made a replica load its policy set."""

    START = "start"
    FILE_CHANGE = "file-change"


@dataclass(frozen=True, slots=True)
class LoadedSet:
    """A policy set as the audit log names it."""

    digest: str
    version: str
    applications: int

    @classmethod
    def of(cls, policy_set: PolicySet, *, version: str) -> LoadedSet:
        """`policy_set`, loaded from files whose `version` the status reports."""
        return cls(set_digest(policy_set), version, len(policy_set.applications))


def policy_loaded(loaded: LoadedSet, *, replica: str, at: datetime) -> Event:
    """The set a replica compiled at start: in force on that replica from `at`."""
    return _event(EventType.POLICY_LOADED, at, _named(loaded, ReloadTrigger.START, replica))


def policy_reloaded(
    loaded: LoadedSet,
    *,
    previous: LoadedSet,
    changes: SetChanges,
    trigger: ReloadTrigger,
    replica: str,
    at: datetime,
) -> Event:
    """A changed set swapped in, the one it replaced, and what differs (names only)."""
    data = _named(loaded, trigger, replica)
    data.update(
        previous_digest=previous.digest,
        previous_version=previous.version,
        applications_added=changes.applications_added,
        applications_removed=changes.applications_removed,
        applications_changed=changes.applications_changed,
        policies_added=changes.policies_added,
        policies_removed=changes.policies_removed,
        policies_changed=changes.policies_changed,
    )
    return _event(EventType.POLICY_RELOADED, at, data)


def policy_reload_rejected(
    kept: LoadedSet,
    *,
    errors: Sequence[PolicyError],
    problem: str,
    trigger: ReloadTrigger,
    replica: str,
    at: datetime,
) -> Event:
    """A changed set refused: the error codes and files, and the set kept in force."""
    data = _named(kept, trigger, replica)
    data.update(
        errors=len(errors),
        error_codes=tuple(sorted({str(error.code) for error in errors})),
        files=tuple(sorted({error.file for error in errors})),
        problem=" ".join(problem.split())[:MAX_PROBLEM_CHARS],
    )
    return _event(EventType.POLICY_RELOAD_REJECTED, at, data)


def _named(loaded: LoadedSet, trigger: ReloadTrigger, replica: str) -> dict[str, DataValue]:
    return {
        "digest": loaded.digest,
        "version": loaded.version,
        "applications": loaded.applications,
        "trigger": trigger.value,
        "replica": replica,
    }


def _event(kind: EventType, at: datetime, data: dict[str, DataValue]) -> Event:
    # The set, not one application; a file change names no person (actor None, as for time).
    return Event(type=kind, at=at, application="", user="", data=data)

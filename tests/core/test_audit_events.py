"""The policy audit events: which set is in force (digest and version), which replica loaded
it, what set it off and what changed; a refusal names its error codes and files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.approvals import Event, EventType, RecordError
from app.core.approvals.codec import encode_time
from app.core.audit_events import (
    MAX_PROBLEM_CHARS,
    LoadedSet,
    ReloadTrigger,
    policy_loaded,
    policy_reload_rejected,
    policy_reloaded,
)
from app.core.notify import Trigger
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.digest import SetChanges
from app.core.policy.errors import PolicyError

AT = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
OLD = LoadedSet("a" * 64, "aaaaaaaaaaaa", 3)
NEW = LoadedSet("b" * 64, "bbbbbbbbbbbb", 4)
REPLICA = "web-1/4242"


def test_a_start_up_load_names_the_set_and_the_replica() -> None:
    """`policy_loaded`: digest, version, size, trigger `start`, this replica; no person."""
    event = policy_loaded(NEW, replica=REPLICA, at=AT)
    assert (event.type, event.at, event.application, event.user, event.actor) == (
        EventType.POLICY_LOADED,
        AT,
        "",
        "",
        None,
    )
    assert dict(event.data) == {
        "digest": NEW.digest,
        "version": NEW.version,
        "applications": 4,
        "trigger": "start",
        "replica": REPLICA,
    }


def test_a_reload_names_both_sets_the_trigger_and_what_changed() -> None:
    """`policy_reloaded`: the new and the previous digest, file-change, and the names."""
    changes = SetChanges(
        applications_added=("wiki",),
        applications_changed=("grafana",),
        policies_removed=("grafana/SRE on managed devices",),
    )
    event = policy_reloaded(
        NEW,
        previous=OLD,
        changes=changes,
        trigger=ReloadTrigger.FILE_CHANGE,
        replica=REPLICA,
        at=AT,
    )
    assert event.type is EventType.POLICY_RELOADED
    assert dict(event.data) == {
        "digest": NEW.digest,
        "version": NEW.version,
        "applications": 4,
        "trigger": "file-change",
        "replica": REPLICA,
        "previous_digest": OLD.digest,
        "previous_version": OLD.version,
        "applications_added": ("wiki",),
        "applications_removed": (),
        "applications_changed": ("grafana",),
        "policies_added": (),
        "policies_removed": ("grafana/SRE on managed devices",),
        "policies_changed": (),
    }


def test_a_refusal_names_the_codes_the_files_and_the_set_kept() -> None:
    """`policy_reload_rejected`: each code and file once, sorted; the digest is the set that
    stays in force."""
    errors = [
        PolicyError(
            "apps/wiki.yaml", 3, 7, "$.policies[0]", PolicyErrorCode.POLICY_UNKNOWN_SELECTOR, "x"
        ),
        PolicyError("apps/db.yaml", 1, 1, "$", PolicyErrorCode.YAML_EMPTY, "empty"),
        PolicyError(
            "apps/wiki.yaml", 9, 7, "$.policies[1]", PolicyErrorCode.POLICY_UNKNOWN_SELECTOR, "y"
        ),
    ]
    event = policy_reload_rejected(
        OLD,
        errors=errors,
        problem="3 policy error(s)",
        trigger=ReloadTrigger.FILE_CHANGE,
        replica=REPLICA,
        at=AT,
    )
    assert event.type is EventType.POLICY_RELOAD_REJECTED
    assert event.data["digest"] == OLD.digest
    assert event.data["errors"] == 3
    assert event.data["error_codes"] == ("policy.unknown_selector", "yaml.empty")
    assert event.data["files"] == ("apps/db.yaml", "apps/wiki.yaml")
    assert event.data["problem"] == "3 policy error(s)"


def test_a_refusal_problem_is_one_short_line() -> None:
    """An unreadable directory's message is kept to one line of at most 200 characters."""
    event = policy_reload_rejected(
        OLD,
        errors=(),
        problem="cannot read /srv/policies:\n" + "x" * 500,
        trigger=ReloadTrigger.FILE_CHANGE,
        replica=REPLICA,
        at=AT,
    )
    problem = event.data["problem"]
    assert isinstance(problem, str)
    assert "\n" not in problem
    assert len(problem) == MAX_PROBLEM_CHARS
    assert event.data["error_codes"] == ()


def test_policy_events_survive_their_json_form() -> None:
    """An audit entry is read back as the same event (the outbox reader and export do)."""
    for event in (
        policy_loaded(NEW, replica=REPLICA, at=AT),
        policy_reloaded(
            NEW,
            previous=OLD,
            changes=SetChanges(applications_added=("wiki",)),
            trigger=ReloadTrigger.FILE_CHANGE,
            replica=REPLICA,
            at=AT,
        ),
    ):
        assert Event.from_dict(event.to_dict()) == event


def test_a_policy_event_in_the_outbox_notifies_nobody() -> None:
    """The store copies every audit event to the outbox: the notifier reads a policy event and
    finds nobody to tell (rather than refusing the entry as unreadable)."""
    event = Event.from_dict(policy_loaded(NEW, replica=REPLICA, at=AT).to_dict())
    assert Trigger.from_event(event) is None


def test_an_ended_sessions_entry_reads_back_as_an_event() -> None:
    """`sessions_revoked`, as the session manager writes it (no application), is a known kind."""
    raw = {
        "type": "sessions_revoked",
        "at": encode_time(AT),
        "application": "",
        "user": "u-alice",
        "actor": "erin@example.com",
        "request_id": None,
        "grant_id": None,
        "data": {"issuer": "https://idp.example.com", "subject": "u-alice"},
    }
    event = Event.from_dict(raw)
    assert (event.type, event.actor) == (EventType.SESSIONS_REVOKED, "erin@example.com")


def test_a_workflow_event_still_needs_its_application() -> None:
    """Only the policy and session kinds may leave `application` empty."""
    raw = policy_loaded(NEW, replica=REPLICA, at=AT).to_dict() | {"type": "request_submitted"}
    with pytest.raises(RecordError, match="application"):
        Event.from_dict(raw)

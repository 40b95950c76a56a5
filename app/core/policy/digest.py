"""What names a compiled policy set in the audit log: a digest of what decides, and which
applications and policies one set adds, removes or changes compared with another.

The digest is SHA-256 over canonical JSON of the compiled set: per application its id, name,
hosts and paths (sorted: their order decides nothing) and its policies in order; per policy its
name, action, selectors as written and the fingerprint of its approval and justification blocks
(core.policy.fingerprint). File names, comments and layout count for nothing, so every replica
that loaded the same rules reports the same digest, whatever the files' times or paths.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.policy.model import Application, Policy
from app.core.policy.policy_set import PolicySet
from app.core.selectors.base import Rule


def set_digest(policy_set: PolicySet) -> str:
    """SHA-256 (hex) of the canonical form of `policy_set`."""
    document = {app_id: _application(app) for app_id, app in policy_set.applications.items()}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SetChanges:
    """Names of what differs between two sets, each sorted.

    A policy is named `application/policy name` and listed only for applications in both sets
    (an added or removed application speaks for its policies). An application whose name,
    hosts, paths or policy order changed is changed even when none of its policies is.
    """

    applications_added: tuple[str, ...] = ()
    applications_removed: tuple[str, ...] = ()
    applications_changed: tuple[str, ...] = ()
    policies_added: tuple[str, ...] = ()
    policies_removed: tuple[str, ...] = ()
    policies_changed: tuple[str, ...] = ()


def set_changes(before: PolicySet, after: PolicySet) -> SetChanges:
    """What `after` adds, removes and changes compared with `before`."""
    old, new = before.applications, after.applications
    changed = sorted(
        app_id
        for app_id in old.keys() & new.keys()
        if _application(old[app_id]) != _application(new[app_id])
    )
    added: list[str] = []
    removed: list[str] = []
    edited: list[str] = []
    for app_id in changed:
        was, now = _policies_of(old[app_id]), _policies_of(new[app_id])
        added += [f"{app_id}/{name}" for name in sorted(now.keys() - was.keys())]
        removed += [f"{app_id}/{name}" for name in sorted(was.keys() - now.keys())]
        edited += [f"{app_id}/{n}" for n in sorted(was.keys() & now.keys()) if was[n] != now[n]]
    return SetChanges(
        applications_added=tuple(sorted(new.keys() - old.keys())),
        applications_removed=tuple(sorted(old.keys() - new.keys())),
        applications_changed=tuple(changed),
        policies_added=tuple(added),
        policies_removed=tuple(removed),
        policies_changed=tuple(edited),
    )


def _policies_of(app: Application) -> Mapping[str, dict[str, Any]]:
    return {policy.name: _policy(policy) for policy in app.policies}


def _application(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "hosts": sorted(app.hosts),
        "paths": sorted(app.paths),
        "policies": [_policy(policy) for policy in app.policies],
    }


def _policy(policy: Policy) -> dict[str, Any]:
    # The fingerprint already covers the approval and justification blocks, canonically.
    return {
        "name": policy.name,
        "action": policy.action.value,
        "include": _rules(policy.include),
        "require": _rules(policy.require),
        "exclude": _rules(policy.exclude),
        "second_opinion": policy.fingerprint,
    }


def _rules(rules: tuple[Rule, ...]) -> list[list[str]]:
    return [[rule.kind, rule.text] for rule in rules]

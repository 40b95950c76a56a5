"""The JSON Schema (draft 2020-12) of one application file, for editors and CI.

It is built from the compiler's own key lists and each registered selector's `schema`, so a new
key or selector shows up here (and in `policy_rules/schema.json`, via `make schema`) without
editing this file twice. The compiler stays the authority: the schema catches shape mistakes
while typing; semantic checks (route clashes, durations in order) are the compiler's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.policy.compile_approval import (
    APPROVAL_KEYS,
    APPROVER_KEYS,
    JUSTIFICATION_KEYS,
    REVIEWERS_NEED_KEYS,
)
from app.core.policy.compile_document import APP_KEYS, APPLICATION_KEYS, POLICY_KEYS
from app.core.policy.compile_emergency import BREAK_GLASS_KEYS
from app.core.policy.model import Action
from app.core.selectors import REGISTRY

SCHEMA_ID = "urn:countersign:policy-file"
_DURATION = {"$ref": "#/$defs/duration"}
_COUNT = {"type": "integer", "minimum": 1, "maximum": 100}

#: The value schema of every key the compiler accepts, by (section, key).
_PROPERTIES: dict[str, dict[str, Any]] = {
    "file.application": {"$ref": "#/$defs/application"},
    "file.policies": {
        "type": "array",
        "minItems": 1,
        "description": "Evaluated in order; the first policy that matches decides.",
        "items": {"$ref": "#/$defs/policy"},
    },
    "application.id": {
        "type": "string",
        "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$",
        "description": "Stable id used in grants, logs and headers.",
    },
    "application.name": {"type": "string", "minLength": 1, "description": "Display name."},
    "application.hosts": {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "description": "Exact host names, or '*.example.com' for any subdomain.",
        "items": {
            "type": "string",
            "maxLength": 253,
            "pattern": (
                r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
            ),
        },
    },
    "application.paths": {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "default": ["/"],
        "description": "Path prefixes; the longest matching prefix wins across applications.",
        "items": {"type": "string", "pattern": "^/[^?#*]*$"},
    },
    "application.description": {"type": "string"},
    "policy.name": {"type": "string", "minLength": 1, "description": "Unique in this file."},
    "policy.action": {
        "enum": [action.value for action in Action],
        "description": "allow and block match signed-in users only; bypass matches anyone.",
    },
    "policy.include": {
        "$ref": "#/$defs/rules",
        "minItems": 1,
        "description": "Any one must match. Use [{everyone: true}] to match everyone.",
    },
    "policy.require": {"$ref": "#/$defs/rules", "description": "All must match."},
    "policy.exclude": {"$ref": "#/$defs/rules", "description": "None may match."},
    "policy.justification": {"$ref": "#/$defs/justification"},
    "policy.approval": {"$ref": "#/$defs/approval"},
    "policy.break_glass": {"$ref": "#/$defs/break_glass"},
    "justification.required": {"const": True},
    "justification.prompt": {"type": "string", "minLength": 1},
    "justification.min_length": {"type": "integer", "minimum": 1, "maximum": 1000},
    "justification.max_length": {"type": "integer", "minimum": 1, "maximum": 10000},
    "justification.pattern": {
        "type": "string",
        "minLength": 1,
        "format": "regex",
        "description": "A regular expression the reason must contain (e.g. a ticket id).",
    },
    "justification.session_duration": {
        **_DURATION,
        "description": "How long one reason keeps the door open.",
    },
    "approval.approvers": {
        "type": "array",
        "minItems": 1,
        "items": {"$ref": "#/$defs/approver"},
    },
    "approval.approvals_required": {
        **_COUNT,
        "default": 1,
        "description": "Distinct approvers needed (N of M).",
    },
    "approval.default_duration": {**_DURATION, "default": "1h"},
    "approval.max_duration": {**_DURATION, "description": "Approvers may shorten, never exceed."},
    "approval.pending_ttl": {**_DURATION, "default": "24h"},
    "approval.reviewers_need": {"$ref": "#/$defs/reviewers_need"},
    "approval.starts_within": {
        **_DURATION,
        "default": "7d",
        "description": "How far ahead a planned window (`starts_at`) may start (1m to 365d).",
    },
    "approval.escalate_after": {
        **_DURATION,
        "description": "After this long without a review, escalate_to may review too "
        "(shorter than pending_ttl; needs escalate_to).",
    },
    "approval.escalate_to": {
        "type": "array",
        "minItems": 1,
        "description": "Fallback approvers, notified when the request escalates.",
        "items": {"$ref": "#/$defs/approver"},
    },
    "break_glass.who": {
        "type": "array",
        "minItems": 1,
        "description": "Who may grant themselves access at once, with a justification.",
        "items": {"$ref": "#/$defs/approver"},
    },
    "break_glass.max_duration": {
        **_DURATION,
        "default": "1h",
        "description": "Longest emergency access (1m to 24h).",
    },
    "break_glass.review_within": {
        **_DURATION,
        "default": "24h",
        "description": "An approver must review each use within this long (5m to 30d).",
    },
    "reviewers_need.mfa": {
        "type": "boolean",
        "default": False,
        "description": "Approvers must have signed in with a second factor (amr).",
    },
    "reviewers_need.max_auth_age": {
        **_DURATION,
        "description": "Approvers must have signed in at most this long ago (1m to 24h).",
    },
    "approver.group": {"type": "string", "minLength": 1},
    "approver.email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
    "approver.required": {
        **_COUNT,
        "description": "Approvals needed from this group in particular.",
    },
}


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of one `apps/*.yaml` file."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Countersign application policy file",
        "description": "One protected application and the policies that guard it.",
        **_object("file", APP_KEYS, required=("application", "policies")),
        "$defs": {
            "application": _object("application", APPLICATION_KEYS, required=("id", "hosts")),
            "policy": {
                **_object("policy", POLICY_KEYS, required=("name", "action", "include")),
                "if": {
                    "required": ["action"],
                    "properties": {"action": {"not": {"const": Action.ALLOW.value}}},
                },
                "then": {
                    "properties": {"justification": False, "approval": False, "break_glass": False}
                },
            },
            "rules": {"type": "array", "items": {"$ref": "#/$defs/selector"}},
            "selector": _selector(),
            "justification": _object("justification", JUSTIFICATION_KEYS, required=()),
            "approval": _object("approval", APPROVAL_KEYS, required=("approvers",)),
            "break_glass": {
                **_object("break_glass", BREAK_GLASS_KEYS, required=("who",)),
                "description": "Emergency self-service access, loud and reviewed afterwards.",
            },
            "reviewers_need": {
                **_object("reviewers_need", REVIEWERS_NEED_KEYS, required=()),
                "description": "Step-up: how recently and how strongly an approver signed in.",
                "minProperties": 1,
            },
            "approver": {
                **_object("approver", APPROVER_KEYS, required=()),
                "oneOf": [{"required": ["group"]}, {"required": ["email"]}],
                "dependentRequired": {"required": ["group"]},
            },
            "duration": {
                "type": "string",
                "pattern": "^[1-9][0-9]{0,8}(s|m|h|d)$",
                "description": "A number and a unit: 90s, 15m, 4h, 7d.",
            },
        },
    }


def policy_schema_json() -> str:
    """The schema as stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(policy_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _object(section: str, keys: Sequence[str], *, required: Sequence[str]) -> dict[str, Any]:
    """A closed object whose properties are exactly the compiler's `keys` for `section`."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": {key: _PROPERTIES[f"{section}.{key}"] for key in keys},
    }


def _selector() -> dict[str, Any]:
    """Exactly one key, naming a registered selector kind."""
    properties = {}
    for name in sorted(REGISTRY):
        kind = REGISTRY[name]
        value = _plain(kind.schema)
        value.setdefault("description", kind.summary)
        properties[name] = value
    return {
        "type": "object",
        "description": "One selector, e.g. {group: sre}.",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": properties,
    }


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with plain dicts and lists, so the registry's values are never shared."""
    return json.loads(json.dumps(value))  # type: ignore[no-any-return]

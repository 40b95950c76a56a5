"""The fingerprint of a policy's second-opinion requirement, computed once when it is compiled.

A grant (or justified session) records the fingerprint of the policy that issued it and counts
only while the matching policy still has that fingerprint (docs/adr/0006-grants-bound-to-policy.md).
It covers the application id, the policy name and the compiled `approval` and `justification`
blocks, nothing else: editing who matches (`include`, `require`, `exclude`) or another policy
leaves live grants counting; editing the approvers, counts, durations, what reviewers must show
(`reviewers_need`) or the reason asked for ends them. `reviewers_need` and `starts_within` enter the
document only when set, so policies without them keep the fingerprints they had before. It is
computed from the compiled values, so `60m` and `1h` give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from app.core.policy.model import Approval, Justification, Policy, ReviewerRequirement


def policy_fingerprint(application: str, policy: Policy) -> str:
    """SHA-256 (hex) over canonical JSON of what a grant under `policy` was approved against."""
    document = {
        "application": application,
        "policy": policy.name,
        "approval": _approval(policy.approval),
        "justification": _justification(policy.justification),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_fingerprint(application: str, policy: Policy) -> Policy:
    """`policy` carrying its fingerprint (the compiler calls this once per policy)."""
    return replace(policy, fingerprint=policy_fingerprint(application, policy))


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def _approval(block: Approval | None) -> dict[str, Any] | None:
    if block is None:
        return None
    # The order approvers are listed in changes nobody's rights: sort them.
    approvers = sorted((a.kind, a.value, a.required) for a in block.approvers)
    document: dict[str, Any] = {
        "approvers": [list(entry) for entry in approvers],
        "approvals_required": block.approvals_required,
        "default_duration": _seconds(block.default_duration),
        "max_duration": _seconds(block.max_duration),
        "pending_ttl": _seconds(block.pending_ttl),
    }
    if block.reviewers_need is not None:
        document["reviewers_need"] = _reviewers_need(block.reviewers_need)
    if block.starts_within is not None:
        document["starts_within"] = _seconds(block.starts_within)
    if block.escalation is not None:  # fallback approvers change who may approve
        document["escalation"] = {
            "after": _seconds(block.escalation.after),
            "to": [list(e) for e in sorted((a.kind, a.value) for a in block.escalation.to)],
        }
    return document


def _reviewers_need(need: ReviewerRequirement) -> dict[str, Any]:
    return {"mfa": need.mfa, "max_auth_age": need.max_age_seconds}


def _justification(block: Justification | None) -> dict[str, Any] | None:
    if block is None:
        return None
    return {
        "prompt": block.prompt,
        "min_length": block.min_length,
        "max_length": block.max_length,
        "pattern": block.pattern.pattern if block.pattern is not None else None,
        "pattern_flags": block.pattern.flags if block.pattern is not None else None,
        "session_duration": _seconds(block.session_duration),
    }

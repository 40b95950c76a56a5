"""Response models of the admin views: the loaded policy set with its status, and the audit
log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.adapters.api.v1.records import Duration
from app.adapters.store.audit import AuditEntry
from app.core.policy.model import Application, Policy
from app.core.policy.policy_set import PolicySet
from app.services.policy_repository import PolicyStatus


class JustificationOut(BaseModel):
    """What a policy asks the user to say."""

    prompt: str
    min_length: int
    max_length: int
    pattern: str | None
    session_duration: Duration


class ApprovalOut(BaseModel):
    """Who approves, how many, and for how long."""

    approvers: list[str]
    approvals_required: int
    default_duration: Duration
    max_duration: Duration
    pending_ttl: Duration


class PolicyOut(BaseModel):
    """One policy of an application, in evaluation order."""

    name: str
    action: str
    justification: JustificationOut | None
    approval: ApprovalOut | None

    @classmethod
    def of(cls, policy: Policy) -> PolicyOut:
        """From the compiled policy."""
        rules, approval = policy.justification, policy.approval
        return cls(
            name=policy.name,
            action=policy.action.value,
            justification=None
            if rules is None
            else JustificationOut(
                prompt=rules.prompt,
                min_length=rules.min_length,
                max_length=rules.max_length,
                pattern=rules.pattern.pattern if rules.pattern is not None else None,
                session_duration=Duration.of(rules.session_duration),
            ),
            approval=None
            if approval is None
            else ApprovalOut(
                approvers=[
                    f"{a.kind}:{a.value}" + (f" ({a.required})" if a.required else "")
                    for a in approval.approvers
                ],
                approvals_required=approval.approvals_required,
                default_duration=Duration.of(approval.default_duration),
                max_duration=Duration.of(approval.max_duration),
                pending_ttl=Duration.of(approval.pending_ttl),
            ),
        )


class ApplicationOut(BaseModel):
    """A protected application and its policies."""

    id: str
    name: str
    hosts: list[str]
    paths: list[str]
    source: str
    policies: list[PolicyOut]

    @classmethod
    def of(cls, app: Application) -> ApplicationOut:
        """From the compiled application."""
        return cls(
            id=app.id,
            name=app.name,
            hosts=list(app.hosts),
            paths=list(app.paths),
            source=app.source,
            policies=[PolicyOut.of(p) for p in app.policies],
        )


class PoliciesOut(BaseModel):
    """The policy set in force, and how its last reload went (errors name file:line:column)."""

    version: str
    applications: int
    last_reload_ok: bool
    problem: str | None
    errors: list[str]
    reloads: int
    failed_reloads: int
    loaded: list[ApplicationOut]

    @classmethod
    def of(cls, status: PolicyStatus, policy_set: PolicySet) -> PoliciesOut:
        """From the repository's status and current set."""
        return cls(
            version=status.version,
            applications=status.applications,
            last_reload_ok=status.last_reload_ok,
            problem=status.problem,
            errors=[str(error) for error in status.errors],
            reloads=status.reloads,
            failed_reloads=status.failed_reloads,
            loaded=[
                ApplicationOut.of(app)
                for _, app in sorted(policy_set.applications.items(), key=lambda item: item[0])
            ],
        )


class AuditEntryOut(BaseModel):
    """One audit log entry: the event (null if unreadable) and the hash chain around it."""

    id: str
    event: dict[str, Any] | None
    hash: str
    prev: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        """From a stored entry."""
        return cls(id=entry.id, event=entry.event, hash=entry.hash, prev=entry.prev)


class AuditPage(BaseModel):
    """One page, newest first; pass `next_cursor` back as `cursor` (null: the end)."""

    items: list[AuditEntryOut]
    next_cursor: str | None

"""Who takes part in the approval tests, the policies they work under, and small builders.

ALICE the engineer asks; BOB (SRE lead), CAROL and DAVE (DBA leads) approve; MALLORY the
contractor tries things she should not. Time is the pinned NOW and offsets from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from app.core.approvals import (
    AccessRequest,
    ApprovalError,
    ErrorCode,
    Grant,
    Requester,
    ReviewDecision,
    review,
    submit,
)
from app.core.context import Device, Identity
from app.core.policy.fingerprint import with_fingerprint
from app.core.policy.model import Action, Approval, Approver, Justification, Policy
from tests.core.personas import ALICE, BOB, MALLORY, NOW

CAROL = Identity(
    subject="u-carol",
    email="carol@example.com",
    groups=frozenset({"dba", "dba-leads"}),
    issuer="https://idp.example.com",
)
DAVE = Identity(
    subject="u-dave",
    email="dave@example.com",
    groups=frozenset({"dba-leads"}),
    issuer="https://idp.example.com",
)
ADMIN = Identity(subject="u-root", email="root@example.com", groups=frozenset({"admins"}))

__all__ = ["ADMIN", "ALICE", "BOB", "CAROL", "DAVE", "MALLORY", "NOW"]

APPROVE = ReviewDecision.APPROVE
DENY = ReviewDecision.DENY
HOUR = timedelta(hours=1)

TICKET = Justification(
    prompt="Ticket or incident?",
    min_length=8,
    max_length=200,
    pattern=re.compile(r"\b(INC|CHG)-[0-9]+\b"),
    session_duration=timedelta(hours=8),
)
GOOD_REASON = "INC-4711 database failover"

ALICE_AT_DESK = Requester(
    user="alice@example.com",
    email="alice@example.com",
    groups=frozenset({"engineers"}),
    client_ip="192.0.2.10",
    country="FR",
    device=Device(managed=True, tags=frozenset({"disk-encrypted"}), device_id="d-7"),
    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
    issuer=ALICE.issuer,
    subject=ALICE.subject,
)


def approval(
    *approvers: Approver,
    required: int = 1,
    default: timedelta = HOUR,
    maximum: timedelta = 8 * HOUR,
    pending_ttl: timedelta = 24 * HOUR,
) -> Approval:
    """An approval block; SRE leads approve when no approvers are named."""
    return Approval(
        approvers=approvers or (Approver("group", "sre-leads"),),
        approvals_required=required,
        default_duration=default,
        max_duration=maximum,
        pending_ttl=pending_ttl,
    )


def policy(
    block: Approval | None = None,
    *,
    justification: Justification | None = TICKET,
    name: str = "Databases, second opinion",
) -> Policy:
    """An allow policy of db-console with the given approval block (SRE leads by default) and
    justification, fingerprinted as the compiler would."""
    built = Policy(
        name=name,
        index=0,
        action=Action.ALLOW,
        include=(),
        require=(),
        exclude=(),
        justification=justification,
        approval=block if block is not None else approval(),
    )
    return with_fingerprint("db-console", built)


SRE_LEADS = policy()
#: Two of: SRE leads, DBA leads (at least one DBA lead), or the CTO.
TWO_WITH_A_DBA = policy(
    approval(
        Approver("group", "sre-leads"),
        Approver("group", "dba-leads", required=1),
        Approver("email", "cto@example.com"),
        required=2,
    )
)


def pending(
    on: Policy = SRE_LEADS,
    *,
    requested: timedelta | None = None,
    requester: Requester = ALICE_AT_DESK,
) -> AccessRequest:
    """ALICE's freshly submitted request under `on`, at NOW."""
    return submit(
        request_id="r-1",
        application="db-console",
        policy=on,
        requester=requester,
        justification=GOOD_REASON,
        requested_duration=requested,
        now=NOW,
    ).request


def approved(on: Policy = SRE_LEADS) -> tuple[AccessRequest, Grant]:
    """ALICE's request, approved by BOB at NOW + 5 minutes."""
    done = review(
        pending(on),
        reviewer=BOB,
        decision=APPROVE,
        policy=on,
        now=NOW + timedelta(minutes=5),
        grant_id="g-1",
    )
    assert done.grant is not None
    return done.request, done.grant


@contextmanager
def refused(code: ErrorCode) -> Iterator[None]:
    """Expect the block to raise an ApprovalError with exactly this code."""
    with pytest.raises(ApprovalError) as info:
        yield
    assert info.value.code is code, info.value

"""`everyone: true` — any caller (any signed-in user for allow/block policies)."""

from __future__ import annotations

from datetime import datetime

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import Rule, SelectorError, SelectorKind, register


def _always(_ctx: AccessContext, _now: datetime) -> bool:
    return True


def compile_everyone(value: object) -> Rule:
    """Only `true` is meaningful; `false` would be a rule that never matches, so it is refused."""
    if value is not True:
        raise SelectorError(
            PolicyErrorCode.POLICY_BAD_VALUE, "'everyone' takes only the value true"
        )
    return Rule("everyone", "everyone: true", _always, Reason.EVERYONE_OK, Reason.EVERYONE_OK)


KIND = register(
    SelectorKind(
        name="everyone",
        schema={"const": True, "description": "Matches every caller."},
        compile=compile_everyone,
        summary="any caller",
    )
)

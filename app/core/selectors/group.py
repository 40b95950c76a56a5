"""`group: sre` or a list — the user is in at least one of the groups (exact, case-sensitive)."""

from __future__ import annotations

from datetime import datetime

from app.core.context import AccessContext
from app.core.reasons import Reason
from app.core.selectors.base import (
    Rule,
    SelectorKind,
    register,
    render,
    string_list,
    string_list_schema,
)


def compile_group(value: object) -> Rule:
    """Compile to a set intersection, so the order of the user's groups never matters."""
    wanted = frozenset(string_list(value, what="a group name"))

    def test(ctx: AccessContext, _now: datetime) -> bool:
        identity = ctx.identity
        return identity is not None and not wanted.isdisjoint(identity.groups)

    return Rule("group", render("group", value), test, Reason.GROUPS_OK, Reason.GROUPS_NOT_ALLOWED)


KIND = register(
    SelectorKind(
        name="group",
        schema=string_list_schema("Group name(s); any one is enough."),
        compile=compile_group,
        summary="the user is in one of these groups",
    )
)

"""`email: a@b.c` or a list — the verified email, compared case-insensitively."""

from __future__ import annotations

from datetime import datetime

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import (
    Rule,
    SelectorError,
    SelectorKind,
    register,
    render,
    string_list,
    string_list_schema,
)


def compile_email(value: object) -> Rule:
    """Compile to a frozenset membership test on the lower-cased email."""
    emails = string_list(value, what="an email address", lower=True)
    for i, email in enumerate(emails):
        local, _, domain = email.rpartition("@")
        if not local or not domain or " " in email:
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_EMAIL,
                f"'{email}' is not an email address",
                at=f"[{i}]" if isinstance(value, list) else "",
            )
    allowed = frozenset(emails)

    def test(ctx: AccessContext, _now: datetime) -> bool:
        identity = ctx.identity
        return identity is not None and identity.email in allowed

    return Rule("email", render("email", value), test, Reason.EMAIL_OK, Reason.EMAIL_NOT_ALLOWED)


KIND = register(
    SelectorKind(
        name="email",
        schema=string_list_schema("Verified email address(es), case-insensitive."),
        compile=compile_email,
        summary="the user's verified email is one of these",
    )
)

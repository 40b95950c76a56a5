"""`auth_method: mfa` or a list — the token's `amr` holds at least one of these methods."""

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


def compile_auth_method(value: object) -> Rule:
    """Methods compare case-insensitively (IdPs disagree on `MFA` vs `mfa`)."""
    wanted = frozenset(string_list(value, what="an authentication method", lower=True))

    def test(ctx: AccessContext, _now: datetime) -> bool:
        identity = ctx.identity
        # tokens are not normalised, so their side is lowered here (wanted already is)
        return identity is not None and any(m.lower() in wanted for m in identity.amr)

    return Rule(
        "auth_method",
        render("auth_method", value),
        test,
        Reason.AUTH_METHOD_OK,
        Reason.AUTH_METHOD_NOT_ALLOWED,
    )


KIND = register(
    SelectorKind(
        name="auth_method",
        schema=string_list_schema("Authentication method(s) from the token's amr claim."),
        compile=compile_auth_method,
        summary="the user signed in with one of these methods",
    )
)

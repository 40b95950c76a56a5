"""`email_domain: example.com` — the domain of the verified email (exact, case-insensitive)."""

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


def compile_email_domain(value: object) -> Rule:
    """Subdomains do not match: `example.com` does not admit `evil.example.com`."""
    domains = string_list(value, what="a domain", lower=True)
    for i, domain in enumerate(domains):
        if "@" in domain or " " in domain or "." not in domain.strip("."):
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_VALUE,
                f"'{domain}' is not a domain",
                at=f"[{i}]" if isinstance(value, list) else "",
            )
    allowed = frozenset(d.lstrip("@") for d in domains)

    def test(ctx: AccessContext, _now: datetime) -> bool:
        identity = ctx.identity
        return identity is not None and identity.email_domain in allowed

    return Rule(
        "email_domain",
        render("email_domain", value),
        test,
        Reason.EMAIL_DOMAIN_OK,
        Reason.EMAIL_DOMAIN_NOT_ALLOWED,
    )


KIND = register(
    SelectorKind(
        name="email_domain",
        schema=string_list_schema("Domain(s) of the verified email; subdomains do not match."),
        compile=compile_email_domain,
        summary="the user's email is in one of these domains",
    )
)

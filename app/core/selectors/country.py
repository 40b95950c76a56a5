"""`country: [KP, IR]` — the client's country (ISO 3166-1 alpha-2) from a trusted signal."""

from __future__ import annotations

from datetime import datetime

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import (
    Rule,
    SelectorError,
    SelectorKind,
    kind_of,
    register,
    render,
    string_list_schema,
)
from app.core.selectors.countries import ISO_3166_ALPHA2


def compile_country(value: object) -> Rule:
    """Codes are case-insensitive; a client whose country is unknown matches no list."""
    items = [value] if isinstance(value, str | bool) else value
    if not isinstance(items, list) or not items:
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, "expected a country code or a list of them"
        )
    codes: set[str] = set()
    for i, item in enumerate(items):
        if isinstance(item, bool):  # YAML 1.1 reads NO (Norway) as false; say how to fix it.
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_COUNTRY,
                "a boolean is not a country code; quote it, e.g. 'NO'",
                at=f"[{i}]" if isinstance(value, list) else "",
            )
        if not isinstance(item, str):
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_COUNTRY,
                f"expected a country code, got {kind_of(item)}",
                at=f"[{i}]",
            )
        code = item.strip().upper()
        if code not in ISO_3166_ALPHA2:
            raise SelectorError(
                PolicyErrorCode.POLICY_BAD_COUNTRY,
                f"'{item}' is not an ISO 3166-1 alpha-2 country code",
                at=f"[{i}]" if isinstance(value, list) else "",
            )
        codes.add(code)
    wanted = frozenset(codes)

    def test(ctx: AccessContext, _now: datetime) -> bool:
        return ctx.country in wanted

    return Rule(
        "country", render("country", value), test, Reason.COUNTRY_OK, Reason.COUNTRY_NOT_ALLOWED
    )


KIND = register(
    SelectorKind(
        name="country",
        schema=string_list_schema("ISO 3166-1 alpha-2 country code(s) of the client."),
        compile=compile_country,
        summary="the client is in one of these countries",
    )
)

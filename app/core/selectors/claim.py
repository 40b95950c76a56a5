"""`claim: {name: department, equals: finance}` or `{name: roles, contains: admin}`."""

from __future__ import annotations

from datetime import datetime

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason
from app.core.selectors.base import Rule, SelectorError, SelectorKind, kind_of, register, render

Scalar = str | int | float | bool
#: Claims that standards define as space-delimited lists (RFC 8693 §4.2, RFC 9068 §2.2.3).
SPACE_DELIMITED = frozenset({"scope", "scp"})


def split_string_claim(name: str, value: str) -> list[str]:
    """The members of a string claim: space-separated for `scope`/`scp`, otherwise comma-
    separated and trimmed, as groups are, so `"Former admins"` never contains `admins`."""
    if name in SPACE_DELIMITED:
        return value.split()
    return [part.strip() for part in value.split(",") if part.strip()]


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def compile_claim(value: object) -> Rule:
    """`equals` compares a scalar claim; `contains` looks inside a list claim, or a string
    claim holding a list: space-separated for OAuth `scope`/`scp`, comma-separated otherwise."""
    if not isinstance(value, dict):
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, "expected a mapping: {name: ..., equals: ...}"
        )
    for key in value:
        if key not in ("name", "equals", "contains"):
            raise SelectorError(
                PolicyErrorCode.POLICY_UNKNOWN_KEY,
                f"unknown key '{key}' in claim; use name, equals or contains",
                at=f".{key}",
            )
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise SelectorError(PolicyErrorCode.POLICY_MISSING_KEY, "claim needs a 'name'", at=".name")
    if ("equals" in value) == ("contains" in value):
        raise SelectorError(
            PolicyErrorCode.POLICY_BAD_VALUE, "claim needs exactly one of 'equals' or 'contains'"
        )
    op = "equals" if "equals" in value else "contains"
    expected = value[op]
    if not _is_scalar(expected):
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE,
            f"'{op}' must be a single value, got {kind_of(expected)}",
            at=f".{op}",
        )

    if op == "equals":

        def test(ctx: AccessContext, _now: datetime) -> bool:
            identity = ctx.identity
            if identity is None:
                return False
            actual = identity.claims.get(name)
            return _is_scalar(actual) and type(actual) is type(expected) and actual == expected

    else:

        def test(ctx: AccessContext, _now: datetime) -> bool:
            identity = ctx.identity
            if identity is None:
                return False
            actual = identity.claims.get(name)
            if isinstance(actual, str):
                return isinstance(expected, str) and expected in split_string_claim(name, actual)
            if isinstance(actual, list | tuple):
                return any(type(a) is type(expected) and a == expected for a in actual)
            return False

    return Rule("claim", render("claim", value), test, Reason.CLAIM_OK, Reason.CLAIM_NOT_ALLOWED)


KIND = register(
    SelectorKind(
        name="claim",
        schema={
            "type": "object",
            "description": "A named token claim equals a value, or a list claim contains one.",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "equals": {"type": ["string", "number", "boolean"]},
                "contains": {"type": ["string", "number", "boolean"]},
            },
            "oneOf": [{"required": ["equals"]}, {"required": ["contains"]}],
        },
        compile=compile_claim,
        summary="a token claim has this value",
    )
)

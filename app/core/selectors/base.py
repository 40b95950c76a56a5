"""What a selector is: a named kind that compiles a YAML value into a fast predicate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.core.context import AccessContext
from app.core.policy.codes import PolicyErrorCode
from app.core.reasons import Reason

Predicate = Callable[[AccessContext, datetime], bool]


class SelectorError(Exception):
    """A selector value that cannot be compiled. `at` is a JSON-path suffix such as `[2]`."""

    def __init__(self, code: PolicyErrorCode, message: str, *, at: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled selector: the predicate plus the reason codes for either outcome."""

    kind: str
    text: str
    test: Predicate
    ok: Reason
    fail: Reason


@dataclass(frozen=True, slots=True)
class SelectorKind:
    """A selector kind, registered by name; `schema` is the JSON Schema of its value."""

    name: str
    schema: Mapping[str, Any]
    compile: Callable[[object], Rule]
    summary: str


REGISTRY: dict[str, SelectorKind] = {}


def register(kind: SelectorKind) -> SelectorKind:
    """Make a selector kind available to the policy language under its name."""
    if kind.name in REGISTRY:
        raise ValueError(f"selector {kind.name!r} registered twice")
    REGISTRY[kind.name] = kind
    return kind


def string_list(value: object, *, what: str, lower: bool = False) -> tuple[str, ...]:
    """Accept one non-empty string or a non-empty list of them (the usual selector shape)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, f"expected {what} or a non-empty list of them"
        )
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise SelectorError(
                PolicyErrorCode.POLICY_WRONG_TYPE,
                f"expected {what}, got {_kind_of(item)}",
                at=f"[{i}]" if isinstance(value, list) else "",
            )
        out.append(item.strip().lower() if lower else item.strip())
    return tuple(out)


def string_list_schema(description: str) -> dict[str, Any]:
    """JSON Schema for `string_list` values."""
    return {
        "description": description,
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        ],
    }


def render(kind: str, value: object) -> str:
    """The rule as an operator wrote it, for the explain table."""
    if isinstance(value, list):
        return f"{kind}: [{', '.join(str(v) for v in value)}]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {render_value(v)}" for k, v in value.items())
        return f"{kind}: {{{inner}}}"
    return f"{kind}: {render_value(value)}"


def render_value(value: object) -> str:
    """Render a scalar or list compactly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    return str(value)


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return "a string" if isinstance(value, str) else type(value).__name__


kind_of = _kind_of

"""`device: {managed: true, tags: [disk-encrypted]}` — posture from a trusted device signal."""

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
)

_KEYS = ("managed", "tags")


def compile_device(value: object) -> Rule:
    """`managed` must equal the device's state; every listed tag must be present."""
    if not isinstance(value, dict) or not value:
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, "expected a mapping with 'managed' and/or 'tags'"
        )
    for key in value:
        if key not in _KEYS:
            raise SelectorError(
                PolicyErrorCode.POLICY_UNKNOWN_KEY,
                f"unknown key '{key}' in device; use managed or tags",
                at=f".{key}",
            )
    managed = value.get("managed")
    if "managed" in value and not isinstance(managed, bool):
        raise SelectorError(
            PolicyErrorCode.POLICY_WRONG_TYPE, "'managed' must be true or false", at=".managed"
        )
    tags: frozenset[str] = frozenset()
    if "tags" in value:
        try:
            tags = frozenset(string_list(value["tags"], what="a tag"))
        except SelectorError as exc:
            raise SelectorError(exc.code, exc.message, at=".tags" + exc.at) from None

    def test(ctx: AccessContext, _now: datetime) -> bool:
        device = ctx.device
        if managed is not None and device.managed is not managed:
            return False
        return tags <= device.tags

    return Rule(
        "device", render("device", value), test, Reason.DEVICE_OK, Reason.DEVICE_NOT_ALLOWED
    )


KIND = register(
    SelectorKind(
        name="device",
        schema={
            "type": "object",
            "description": "Device posture: managed state and required posture tags.",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "managed": {"type": "boolean"},
                "tags": {
                    "oneOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    ]
                },
            },
        },
        compile=compile_device,
        summary="the device is (un)managed and carries these posture tags",
    )
)

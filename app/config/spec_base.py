"""A setting's row in the table of settings, and how a group of rows names its fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

PREFIX = "COUNTERSIGN_"


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting."""

    key: str
    default: str | None
    description: str
    parse: Callable[[object], Any]
    #: What SETTINGS_DOC shows when the default is derived from another setting.
    shown: str | None = None
    #: `group.field` of Settings it fills; None for the parts of a composite (issuer
    #: shorthand, claim names, OIDC), which the loader puts together.
    at: str | None = None


def grouped(group: str, *specs: Spec, strip: str = "") -> tuple[Spec, ...]:
    """`specs` filling fields of `group`, each named by its key without `strip`."""
    return tuple(replace(s, at=s.at or f"{group}.{s.key.removeprefix(strip)}") for s in specs)

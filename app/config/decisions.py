"""What a decision record holds beyond the request itself (`DECISION_*`): the claims it
records for claim selectors, and the capture file the service appends every decision to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.config import values
from app.config.errors import BadValueError

#: A decision record carries at most this many claims (each one is on every line).
MAX_RECORDED_CLAIMS = 20


def claim_names(raw: object) -> frozenset[str]:
    """A list of token claim names (letters, digits, '.', '_', '-'); empty records none."""
    if raw in ("", []):
        return frozenset()
    names = [values.name(item) for item in values.text_list(raw)]
    if len(names) > MAX_RECORDED_CLAIMS:
        raise BadValueError(f"names at most {MAX_RECORDED_CLAIMS} claims")
    return frozenset(names)


#: (key, default, description, parser) of each setting; app.config.spec makes them Specs.
DECISION_SPECS: tuple[tuple[str, str | None, str, Callable[[object], Any]], ...] = (
    (
        "decision_capture",
        None,
        "File every forward-auth decision's inputs are appended to as JSON lines, for "
        "`countersign policy impact` and POST /api/v1/policies/impact; unset: none.",
        values.path,
    ),
    (
        "decision_claims",
        "",
        "Token claims recorded in decision lines and the capture (the names your `claim` "
        "selectors use; secret-named claims are never recorded).",
        claim_names,
    ),
)


class DecisionRecordSettings(BaseModel):
    """Where decisions are captured (None: nowhere) and which claims a record carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capture: Path | None
    claims: frozenset[str]

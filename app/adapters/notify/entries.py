"""Reading an outbox entry: the trigger it carries, whether a workflow event or a notice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.core.approvals import Event, RecordError
from app.core.notify import Trigger


def decode(fields: Mapping[Any, Any]) -> Trigger | None:
    """The trigger an outbox entry carries (None: it notifies nobody). Raises ValueError on an
    entry that cannot be read."""
    values = {text(k): text(v) for k, v in fields.items()}
    if "event" in values:
        return Trigger.from_event(Event.from_dict(json.loads(values["event"])))
    if "notice" in values:
        return Trigger.from_dict(json.loads(values["notice"]))
    raise RecordError("neither an event nor a notice")


def text(raw: bytes | str) -> str:
    """A stream id or field as text, whether the client decodes replies or not."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)

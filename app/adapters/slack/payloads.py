"""Reading Slack's interaction payloads: only the fields Countersign acts on, each checked.

A payload is trusted only after its signature was verified; even then, names in it are never
used to say who acted (only the user id, looked up through users.info).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from app.core.notify.slack import APPROVE_ACTION, DENY_ACTION, DENY_VIEW

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SLACK_ID = re.compile(r"^[A-Z0-9]{1,32}$")
#: The deny modal's reason input: its block and action ids.
REASON_BLOCK = "countersign_reason"
REASON_INPUT = "reason"


class PayloadError(ValueError):
    """A payload Countersign does not act on."""


@dataclass(frozen=True, slots=True)
class Presser:
    """Who acted, as Slack names them: workspace (team) and user ids."""

    team_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ApprovePress:
    """An Approve button: the request and the duration it offers."""

    presser: Presser
    request_id: str
    duration: timedelta
    response_url: str


@dataclass(frozen=True, slots=True)
class DenyPress:
    """The Deny button: a modal asking why is to be opened with `trigger_id`."""

    presser: Presser
    request_id: str
    trigger_id: str
    response_url: str


@dataclass(frozen=True, slots=True)
class DenySubmit:
    """The deny modal, submitted with a reason."""

    presser: Presser
    request_id: str
    reason: str
    response_url: str


Interaction = ApprovePress | DenyPress | DenySubmit


def payload_of(body: bytes) -> dict[str, Any]:
    """The JSON `payload` field of a form-encoded interaction body."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=8)
        (raw,) = form["payload"]
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, KeyError) as error:
        raise PayloadError("not a form with one JSON payload") from error
    if not isinstance(payload, dict):
        raise PayloadError("the payload is not an object")
    return payload


def _text(container: object, key: str, pattern: re.Pattern[str] | None = None) -> str:
    value = container.get(key) if isinstance(container, dict) else None
    if not isinstance(value, str) or not value or (pattern and not pattern.match(value)):
        raise PayloadError(f"no valid {key}")
    return value


def _presser(payload: dict[str, Any]) -> Presser:
    return Presser(
        team_id=_text(payload.get("team"), "id", _SLACK_ID),
        user_id=_text(payload.get("user"), "id", _SLACK_ID),
    )


def interaction(payload: dict[str, Any]) -> Interaction | None:
    """What the payload asks for; None for interactions Countersign ignores (a link button,
    another app's view)."""
    kind = payload.get("type")
    if kind == "block_actions":
        return _press(payload)
    if kind == "view_submission":
        return _submit(payload)
    return None


def _press(payload: dict[str, Any]) -> Interaction | None:
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1:
        raise PayloadError("expected one action")
    action = actions[0]
    action_id = _text(action, "action_id")
    if action_id == DENY_ACTION:
        return DenyPress(
            presser=_presser(payload),
            request_id=_text(action, "value", _ID),
            trigger_id=_text(payload, "trigger_id"),
            response_url=_text(payload, "response_url"),
        )
    if not action_id.startswith(APPROVE_ACTION) or action_id.endswith("_page"):
        return None
    request_id, _, seconds = _text(action, "value").partition(":")
    if not _ID.match(request_id) or not seconds.isdigit() or len(seconds) > 9:
        raise PayloadError("no valid approve value")
    return ApprovePress(
        presser=_presser(payload),
        request_id=request_id,
        duration=timedelta(seconds=int(seconds)),
        response_url=_text(payload, "response_url"),
    )


def _submit(payload: dict[str, Any]) -> DenySubmit | None:
    view = payload.get("view")
    if not isinstance(view, dict) or view.get("callback_id") != DENY_VIEW:
        return None
    try:
        meta = json.loads(_text(view, "private_metadata"))
        reason = view["state"]["values"][REASON_BLOCK][REASON_INPUT]["value"]
    except (ValueError, KeyError, TypeError) as error:
        raise PayloadError("not a deny modal of Countersign") from error
    if not isinstance(reason, str) or not reason.strip():
        raise PayloadError("no reason")
    return DenySubmit(
        presser=_presser(payload),
        request_id=_text(meta, "request", _ID),
        reason=reason.strip(),
        response_url=_text(meta, "response_url"),
    )


def deny_modal(request_id: str, response_url: str) -> dict[str, Any]:
    """The modal asking an approver why they deny; it remembers the request and where the
    message is updated (`private_metadata`)."""
    meta = json.dumps({"request": request_id, "response_url": response_url})
    return {
        "type": "modal",
        "callback_id": DENY_VIEW,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": "Deny the request"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Why? The requester sees this."},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": False,
                    "max_length": 1000,
                },
            }
        ],
    }

"""A stand-in for Slack, speaking real HTTP on loopback: the Web API methods Countersign calls
(`users.info`, `views.open`) behind a bot token, and response URLs that keep what is posted
to them. Also: interaction payloads as Slack sends them, signed like Slack signs them.

Users are a dict of Slack user id to profile; `users.info` calls are counted per user.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

from app.adapters.slack.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.support.ports import LOOPBACK, free_port

BOT_TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "slack-signing-secret-for-tests"
TEAM = "T0COUNTER"


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A Slack profile as users.info gives it."""

    email: str | None
    confirmed: bool | None = True
    deleted: bool = False
    is_bot: bool = False

    def as_api(self, user_id: str) -> dict[str, Any]:
        """The `user` object of users.info."""
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM,
            # Never to be trusted: the stand-in gives every user a misleading display name.
            "name": "cto",
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "profile": {"real_name": "The CTO", **({"email": self.email} if self.email else {})},
        }
        if self.confirmed is not None:
            user["is_email_confirmed"] = self.confirmed
        return user


@dataclass
class StandInSlack:
    """The stand-in server. `users`: user id → profile."""

    users: dict[str, SlackUser] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    user_lookups: dict[str, int] = field(default_factory=dict)
    views: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unauthorised: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def api_url(self) -> str:
        """What COUNTERSIGN_SLACK_API_URL is set to."""
        return f"{self.origin}/api"

    def response_url(self, name: str) -> str:
        """A response URL of one message's interaction."""
        return f"{self.origin}/actions/{name}"

    def start(self) -> StandInSlack:
        """Listen on loopback."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = stand_in.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """Answer one POST as Slack would."""
        with self._lock:
            if path.startswith("/actions/"):
                self.responses.setdefault(path.removeprefix("/actions/"), []).append(
                    json.loads(body)
                )
                return 200, {"ok": True}
            if headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                self.unauthorised += 1
                return 200, {"ok": False, "error": "invalid_auth"}
            if path == "/api/users.info":
                (user_id,) = parse_qs(body.decode())["user"]
                self.user_lookups[user_id] = self.user_lookups.get(user_id, 0) + 1
                user = self.users.get(user_id)
                if user is None:
                    return 200, {"ok": False, "error": "user_not_found"}
                return 200, {"ok": True, "user": user.as_api(user_id)}
            if path == "/api/views.open":
                self.views.append(json.loads(body))
                return 200, {"ok": True, "view": {"id": "V1"}}
            return 404, {"ok": False, "error": "unknown_method"}

    def posted_to(self, name: str) -> list[dict[str, Any]]:
        """What was posted to response URL `name`, in order."""
        with self._lock:
            return list(self.responses.get(name, []))

    def lookups(self, user_id: str) -> int:
        """How many users.info calls asked about `user_id`."""
        with self._lock:
            return self.user_lookups.get(user_id, 0)


# -- interaction payloads, signed ---------------------------------------------------------------


def form(payload: Mapping[str, Any]) -> bytes:
    """The body Slack posts: the payload as JSON in a form field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None
) -> dict[str, str]:
    """Slack's signature headers over `body`, sent at `at` (now by default)."""
    sent = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        TIMESTAMP_HEADER: str(sent),
        SIGNATURE_HEADER: sign(secret.encode(), sent, body),
    }


def button_press(
    user_id: str,
    *,
    action_id: str,
    value: str,
    response_url: str,
    user_name: str = "someone",
) -> dict[str, Any]:
    """A block_actions payload: `user_id` pressed a button of a message."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM},
        "api_app_id": "A0COUNTER",
        "trigger_id": f"trigger-{user_id}",
        "response_url": response_url,
        "container": {"type": "message", "message_ts": "1714990000.000100"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "countersign_review",
                "value": value,
                "action_ts": "1714990001.000200",
            }
        ],
    }


def modal_submit(user_id: str, view: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """A view_submission payload: `user_id` submitted `view` (as opened) with `reason`."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": user_id, "username": "someone", "team_id": TEAM},
        "view": {
            **view,
            "id": "V1",
            "state": {"values": {"countersign_reason": {"reason": {"value": reason}}}},
        },
    }

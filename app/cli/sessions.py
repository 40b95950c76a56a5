"""`countersign sessions revoke`: end every Countersign session of one person, through the REST
API (admins; see `requests` for the connection options and output conventions)."""

from __future__ import annotations

import argparse
from typing import Any

from app.adapters.api.v1.client import ApiClient
from app.cli.requests import clean, connection, emit_json

_PATH = "/api/v1/sessions/revoke"


def register(sub: Any) -> None:
    """Add `sessions` and its actions."""
    parser = sub.add_parser(
        "sessions",
        help="end people's sessions (calls the API)",
        description="Countersign sessions, through the Countersign REST API.",
    )
    actions = parser.add_subparsers(dest="sessions_command", required=True, metavar="ACTION")
    revoke = actions.add_parser(
        "revoke", help="end every session of one person on every replica (admins)"
    )
    revoke.add_argument("--issuer", required=True, help="the identity provider's issuer (iss)")
    revoke.add_argument("--subject", required=True, help="the person's subject (sub) there")
    connection(revoke, revoke_sessions)


def revoke_sessions(client: ApiClient, args: argparse.Namespace) -> int:
    """`sessions revoke`."""
    answer = client.call("POST", _PATH, json={"issuer": args.issuer, "subject": args.subject})
    if args.json:
        return emit_json(answer)
    print(
        "sessions ended: "
        + "  ".join(clean(answer[k], 80) for k in ("issuer", "subject"))
        + f"  (issued before {clean(answer['not_before'])})"
    )
    return 0

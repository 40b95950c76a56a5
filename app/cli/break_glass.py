"""`countersign grants break-glass|unreviewed|judge`: emergency access through the REST API
(see `requests` for the connection options and output conventions), registered under
`grants` by app.cli.grants."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from app.adapters.api.v1.client import ApiClient
from app.cli.requests import add_quiet, clean, connection, emit_json, table

_PREFIX = "/api/v1"


def register_actions(actions: Any) -> None:
    """Add the break-glass actions to `grants`."""
    use = actions.add_parser(
        "break-glass",
        help="grant yourself access at once in an emergency (loud; reviewed afterwards)",
        description=(
            "Use the break-glass of the policy that matches you on APPLICATION: access at once,"
            " every notification channel hears of it, and an approver reviews it afterwards."
        ),
    )
    use.add_argument("application", help="the application id")
    use.add_argument(
        "--reason", "--justification", dest="justification", required=True, help="why, now"
    )
    use.add_argument("--duration", help="at most the policy's max_duration (the default)")
    add_quiet(use, "only the grant's id")
    connection(use, use_break_glass)

    waiting = actions.add_parser(
        "unreviewed", help="break-glass uses awaiting review that you may see"
    )
    add_quiet(waiting, "only the ids, one a line")
    connection(waiting, list_unreviewed)

    judge = actions.add_parser(
        "judge",
        help="review a break-glass use as an approver (not justified revokes it)",
    )
    judge.add_argument("id", help="the grant id (grt_...)")
    verdict = judge.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--justified", dest="justified", action="store_true")
    verdict.add_argument("--not-justified", dest="justified", action="store_false")
    judge.add_argument("--comment", help="what you found, for the audit log")
    connection(judge, judge_break_glass)


def use_break_glass(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants break-glass`: the grant (new, or the one already in force)."""
    body = {"application": args.application, "justification": args.justification}
    if args.duration:
        body["duration"] = args.duration
    outcome = client.call("POST", f"{_PREFIX}/break-glass", json=body)
    if args.json:
        return emit_json(outcome)
    grant = outcome["grant"]
    if args.quiet:
        print(clean(grant["id"], 80))
        return 0
    print_break_glass(grant)
    return 0


def list_unreviewed(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants unreviewed`."""
    found = client.call("GET", f"{_PREFIX}/break-glass")
    if args.json:
        return emit_json(found)
    if args.quiet:
        for grant in found["items"]:
            print(clean(grant["id"], 80))
        return 0
    table(
        ("ID", "APPLICATION", "USER", "STARTED", "REVIEW DUE", "OVERDUE"),
        [
            (
                g["id"],
                g["application"],
                g["user"],
                g["starts_at"],
                g["break_glass"]["review_due_at"],
                "yes" if g["break_glass"]["overdue_at"] else "",
            )
            for g in found["items"]
        ],
    )
    return 0


def judge_break_glass(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants judge`."""
    body: dict[str, object] = {"justified": args.justified}
    if args.comment:
        body["comment"] = args.comment
    grant = client.call("POST", f"{_PREFIX}/grants/{args.id}/break-glass-review", json=body)
    if args.json:
        return emit_json(grant)
    print_break_glass(grant)
    return 0


def print_break_glass(grant: Mapping[str, Any]) -> None:
    """One break-glass grant as labelled lines."""
    review = grant.get("break_glass") or {}
    fields = (
        ("id", grant["id"]),
        ("status", grant["status"]),
        ("application", grant["application"]),
        ("user", grant["user"]),
        ("justification", grant["justification"]),
        ("expires", grant["expires_at"]),
        ("review due", review.get("review_due_at")),
        ("verdict", review.get("verdict")),
        ("reviewed by", review.get("reviewed_by")),
    )
    for label, value in fields:
        print(f"{label:<14}{clean(value, 200)}")

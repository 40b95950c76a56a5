"""`countersign requests create|list|show|approve|deny|cancel`: access requests through the
REST API.

Also the plumbing the `grants` commands share: `--api` and `--token` (defaults from
COUNTERSIGN_API_URL and COUNTERSIGN_API_TOKEN or its _FILE), a table printer that shows
untrusted text safely, and one-line errors with exit code 1 (2 for bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.adapters.api.v1.client import ApiCallError, ApiClient
from app.config import SettingsError
from app.config.loader import load_client_settings

Action = Callable[[ApiClient, argparse.Namespace], int]
_PREFIX = "/api/v1/access-requests"
_CELL = 48


def register(sub: Any) -> None:
    """Add `requests` and its actions."""
    parser = sub.add_parser(
        "requests",
        help="list, show, approve and deny access requests (calls the API)",
        description="Access requests, through the Countersign REST API.",
    )
    actions = parser.add_subparsers(dest="requests_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="ask for access to an application for yourself",
        description="Ask for access. Prints the request (or the grant you already have).",
    )
    create.add_argument("application", help="the application id, e.g. grafana")
    create.add_argument(
        "--reason", "--justification", dest="justification", help="why you need it (recorded)"
    )
    create.add_argument("--duration", help="how long you ask for, e.g. 30m, 2h or PT45M")
    create.add_argument(
        "--starts-at",
        dest="starts_at",
        help="a planned window's start, RFC 3339 with an offset, e.g. 2026-12-03T22:00:00Z",
    )
    add_quiet(create, "only the id: the request's (req_...), or the grant's (grt_...) in force")
    connection(create, create_request)

    listing = actions.add_parser("list", help="requests you may see, newest first")
    listing.add_argument(
        "--status", choices=("pending", "approved", "denied", "expired", "cancelled")
    )
    listing.add_argument("--application", help="only this application id")
    listing.add_argument("--mine", action="store_true", help="only your own requests")
    listing.add_argument(
        "--to-review", action="store_true", help="only pending ones you may review"
    )
    add_paging(listing)
    add_quiet(listing, "only the ids, one a line")
    connection(listing, list_requests)

    show = actions.add_parser("show", help="one request with its reviews")
    show.add_argument("id", help="the request id (req_...)")
    connection(show, show_request)

    approve = actions.add_parser("approve", help="approve a request as an approver")
    approve.add_argument("id", help="the request id (req_...)")
    approve.add_argument("--duration", help="grant length, e.g. 30m, 2h or PT45M")
    approve.add_argument("--comment", help="a note for the record")
    connection(approve, approve_request)

    deny = actions.add_parser("deny", help="deny a request as an approver")
    deny.add_argument("id", help="the request id (req_...)")
    deny.add_argument("--comment", required=True, help="why (recorded and shown to them)")
    connection(deny, deny_request)

    cancel = actions.add_parser("cancel", help="withdraw your own pending request")
    cancel.add_argument("id", help="the request id (req_...)")
    connection(cancel, cancel_request)


def add_paging(parser: argparse.ArgumentParser) -> None:
    """`--limit` and `--cursor` of a listing."""
    parser.add_argument("--limit", type=int, default=50, help="page size, 1-200 (default 50)")
    parser.add_argument("--cursor", help="continue after a previous page")


def add_quiet(parser: argparse.ArgumentParser, what: str) -> None:
    """`-q/--quiet`: print ids alone, for `ID=$(countersign ...)` in a shell."""
    parser.add_argument("-q", "--quiet", action="store_true", help=f"print {what}")


def connection(parser: argparse.ArgumentParser, action: Action) -> None:
    """`--api`, `--token` and `--json`, and the handler that runs `action` with a client."""
    parser.add_argument("--api", help="API base URL (default COUNTERSIGN_API_URL)")
    parser.add_argument(
        "--token", help="bearer token (default COUNTERSIGN_API_TOKEN; never printed)"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.set_defaults(handler=lambda args: run(args, action))


def run(
    args: argparse.Namespace, action: Action, *, environ: Mapping[str, str] | None = None
) -> int:
    """Run one API action: 0 done, 1 refused or unreachable, 2 bad usage or settings."""
    try:
        url, token = load_client_settings(os.environ if environ is None else environ)
    except SettingsError as error:
        print(f"countersign: {error}", file=sys.stderr)
        return 2
    secret = args.token or (token.get_secret_value() if token is not None else None)
    if not secret:
        print(
            "countersign: no API token; set COUNTERSIGN_API_TOKEN (or _FILE) or pass --token",
            file=sys.stderr,
        )
        return 2
    try:
        with ApiClient(args.api or url, secret) as client:
            return action(client, args)
    except ApiCallError as error:
        print(f"countersign: {error}", file=sys.stderr)
        return 1


def emit_json(value: Any) -> int:
    """Print the API's answer as JSON."""
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def clean(value: object, width: int = _CELL) -> str:
    """A cell: one line, printable characters only (names and reasons are other people's
    text and must not drive the terminal), cut to `width`."""
    text = "-" if value is None or value == "" else str(value)
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print aligned columns; an empty listing says so."""
    if not rows:
        print("(none)")
        return
    cells = [[clean(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(header), *cells]) for i in range(len(header))]
    for row in [list(header), *cells]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def print_ids(page: Mapping[str, Any]) -> int:
    """The ids of a listing's page, one a line (nothing for an empty page)."""
    for item in page["items"]:
        print(clean(item["id"], 80))
    return 0


def page_footer(page: Mapping[str, Any]) -> None:
    """Tell how to get the next page, if any."""
    if page.get("next_cursor"):
        print(f"\nmore: --cursor {clean(page['next_cursor'], 80)}")


def create_request(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests create`: the new (or still open) request, or the grant already in force."""
    body = {"application": args.application}
    wanted = ("justification", "duration", "starts_at")
    body |= {k: getattr(args, k) for k in wanted if getattr(args, k)}
    outcome = client.call("POST", _PREFIX, json=body)
    if args.json:
        return emit_json(outcome)
    if args.quiet:
        made = outcome.get("request") or outcome.get("grant") or {}
        print(clean(made.get("id"), 80))
        return 0
    if outcome.get("request") is not None:
        if not outcome["created"]:
            print("you already have an open request for this application:")
        print_request(outcome["request"])
    elif outcome.get("grant") is not None:
        grant = outcome["grant"]
        verb = "granted" if outcome["created"] else "you already have access"
        since = f" from {clean(grant['starts_at'])}" if grant.get("upcoming") else ""
        print(f"{verb}: {clean(grant['application'])}{since} until {clean(grant['expires_at'])}")
    return 0


def cancel_request(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests cancel`."""
    request = client.call("POST", f"{_PREFIX}/{args.id}/cancel")
    if args.json:
        return emit_json(request)
    print_request(request)
    return 0


def list_requests(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests list`."""
    params: dict[str, str | int | bool] = {"limit": args.limit}
    for key in ("status", "application", "cursor"):
        if getattr(args, key):
            params[key] = getattr(args, key)
    if args.mine:
        params["mine"] = True
    if args.to_review:
        params["to_review"] = True
    page = client.call("GET", _PREFIX, params=params)
    if args.json:
        return emit_json(page)
    if args.quiet:
        return print_ids(page)
    table(
        ("ID", "STATUS", "APPLICATION", "REQUESTER", "CREATED", "JUSTIFICATION"),
        [
            (
                r["id"],
                r["status"],
                r["application"],
                r["requester"]["user"],
                r["created_at"],
                r["justification"],
            )
            for r in page["items"]
        ],
    )
    page_footer(page)
    return 0


def show_request(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests show`."""
    request = client.call("GET", f"{_PREFIX}/{args.id}")
    if args.json:
        return emit_json(request)
    print_request(request)
    return 0


def approve_request(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests approve`."""
    body = {k: getattr(args, k) for k in ("duration", "comment") if getattr(args, k) is not None}
    request = client.call("POST", f"{_PREFIX}/{args.id}/approve", json=body)
    if args.json:
        return emit_json(request)
    print_request(request)
    return 0


def deny_request(client: ApiClient, args: argparse.Namespace) -> int:
    """`requests deny`."""
    request = client.call("POST", f"{_PREFIX}/{args.id}/deny", json={"comment": args.comment})
    if args.json:
        return emit_json(request)
    print_request(request)
    return 0


def print_request(request: Mapping[str, Any]) -> None:
    """One request as labelled lines, then its reviews."""
    requester = request["requester"]
    wanted = request.get("requested_duration")
    fields: tuple[tuple[str, object], ...] = (
        ("id", request["id"]),
        ("status", request["status"]),
        ("application", request["application"]),
        ("policy", request["policy"]),
        ("requester", requester["user"]),
        ("from", f"{requester['client_ip'] or '-'} {requester['country'] or ''}".strip()),
        ("justification", request["justification"]),
        ("duration", wanted["text"] if wanted else None),
        ("created", request["created_at"]),
        ("expires", request["expires_at"]),
        ("resolved", request["resolved_at"]),
        ("grant", request["grant_id"]),
    )
    # A planned window's start and the grant an extension lengthens, when there are any.
    fields += tuple(
        (label, request[key])
        for label, key in (("starts", "starts_at"), ("extends", "extends"))
        if request.get(key)
    )
    escalation = request.get("escalation") or {}  # a policy with fallback approvers
    fields += tuple(
        (label, escalation[key])
        for label, key in (("escalates", "escalates_at"), ("escalated", "escalated_at"))
        if escalation.get(key)
    )
    for label, value in fields:
        print(f"{label:<14}{clean(value, 200)}")
    if request["reviews"]:
        print()
        table(
            ("REVIEWER", "DECISION", "AT", "DURATION", "VIA TOKEN", "COMMENT"),
            [
                (
                    r["reviewer"],
                    r["decision"],
                    r["at"],
                    r["duration"]["text"] if r["duration"] else None,
                    r["via_token"],
                    r["comment"],
                )
                for r in request["reviews"]
            ],
        )

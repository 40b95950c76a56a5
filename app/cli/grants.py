"""`countersign grants list|revoke|extend`: grants through the REST API (see `requests` for the
connection options and output conventions)."""

from __future__ import annotations

import argparse
from typing import Any

from app.adapters.api.v1.client import ApiClient
from app.cli import break_glass
from app.cli.requests import (
    add_paging,
    add_quiet,
    clean,
    connection,
    emit_json,
    page_footer,
    print_ids,
    print_request,
    table,
)

_PREFIX = "/api/v1/grants"


def register(sub: Any) -> None:
    """Add `grants` and its actions."""
    parser = sub.add_parser(
        "grants",
        help="list and revoke grants (calls the API)",
        description="Grants, through the Countersign REST API.",
    )
    actions = parser.add_subparsers(dest="grants_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="grants you may see, newest first")
    listing.add_argument("--mine", action="store_true", help="only your own grants")
    listing.add_argument("--application", help="only this application id")
    listing.add_argument("--user", help="only this user's grants")
    listing.add_argument(
        "--active", action="store_true", help="only live grants (in force now, or upcoming)"
    )
    add_paging(listing)
    add_quiet(listing, "only the ids, one a line")
    connection(listing, list_grants)

    revoke = actions.add_parser(
        "revoke", help="revoke a grant (approvers, admins) or end your own early"
    )
    revoke.add_argument("id", help="the grant id (grt_...)")
    revoke.add_argument("--reason", help="why, for the audit log")
    connection(revoke, revoke_grant)

    extend = actions.add_parser(
        "extend",
        help="ask for more time on your own live grant (reviewed like a request)",
        description="Ask to extend a grant. Prints the extension request (req_...).",
    )
    extend.add_argument("id", help="the grant id (grt_...)")
    extend.add_argument(
        "--reason", "--justification", dest="justification", help="why you need more time"
    )
    extend.add_argument("--duration", help="how much more, e.g. 30m, 2h or PT45M")
    add_quiet(extend, "only the extension request's id")
    connection(extend, extend_grant)
    break_glass.register_actions(actions)  # break-glass, unreviewed, judge


def list_grants(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants list`."""
    params: dict[str, str | int | bool] = {"limit": args.limit}
    for key in ("application", "user", "cursor"):
        if getattr(args, key):
            params[key] = getattr(args, key)
    for flag in ("mine", "active"):
        if getattr(args, flag):
            params[flag] = True
    page = client.call("GET", _PREFIX, params=params)
    if args.json:
        return emit_json(page)
    if args.quiet:
        return print_ids(page)
    table(
        ("ID", "STATUS", "APPLICATION", "USER", "EXPIRES", "DURATION"),
        [
            (
                g["id"],
                "upcoming" if g.get("upcoming") else g["status"],
                g["application"],
                g["user"],
                g["expires_at"],
                g["duration"]["text"],
            )
            for g in page["items"]
        ],
    )
    page_footer(page)
    return 0


def revoke_grant(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants revoke`."""
    params = {"reason": args.reason} if args.reason else None
    grant = client.call("DELETE", f"{_PREFIX}/{args.id}", params=params)
    if args.json:
        return emit_json(grant)
    ended = (
        "ended early by its holder" if grant["ended_early"] else f"revoked by {grant['revoked_by']}"
    )
    print(
        "  ".join(clean(v, 80) for v in (grant["id"], grant["application"], grant["user"], ended))
    )
    return 0


def extend_grant(client: ApiClient, args: argparse.Namespace) -> int:
    """`grants extend`: the extension request (new, or the one already open)."""
    body = {k: getattr(args, k) for k in ("justification", "duration") if getattr(args, k)}
    request = client.call("POST", f"{_PREFIX}/{args.id}/extend", json=body)
    if args.json:
        return emit_json(request)
    if args.quiet:
        print(clean(request["id"], 80))
        return 0
    print_request(request)
    return 0

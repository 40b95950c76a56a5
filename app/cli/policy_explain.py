"""`countersign policy explain`: the decision for one hypothetical request, rule by rule.

The request is built from flags the way the forward-auth path would build it (normalised host
and path, lower-case email); the grant store is imagined with `--grant` / `--pending`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from app.core.context import AccessContext, Device, Identity, IPAddress, build_access_context
from app.core.decision import Decision, GrantState
from app.core.policy.errors import PolicyError
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.services.sample_requests import TargetError, claim_value, grant_state, parse_url

Loader = Callable[[str], tuple[PolicySet | None, list[PolicyError], int]]


class UsageError(ValueError):
    """A flag value that cannot describe a request; exit 2."""


def register_explain(parser: argparse.ArgumentParser, *, default_dir: str) -> None:
    """The flags of `policy explain`."""
    add = parser.add_argument
    add("--dir", default=default_dir, help=f"policy directory (default {default_dir})")
    add("--url", required=True, help="absolute http(s) URL of the request")
    add("--method", default="GET", help="HTTP method (default GET)")
    add("--email", help="the signed-in user's email; omit for an anonymous caller")
    add("--group", action="append", default=[], help="a group of the user (repeatable)")
    add("--ip", help="client IP address")
    add("--country", help="client country, ISO 3166-1 alpha-2")
    add("--device-managed", action="store_true", help="the device is managed")
    add("--device-tag", action="append", default=[], help="a device posture tag (repeatable)")
    add("--amr", action="append", default=[], help="an authentication method (repeatable)")
    add("--claim", action="append", default=[], metavar="K=V", help="a token claim (repeatable)")
    add("--grant", action="store_true", help="an active grant exists for this user and app")
    add("--pending", action="store_true", help="an access request is open")
    add("--now", help="ISO 8601 time of the request (default: now, UTC)")
    add("--json", action="store_true", help="print one JSON object")


def explain_command(args: argparse.Namespace, load: Loader) -> int:
    """Print the decision, its reasons, the application, the policy and the explain table."""
    try:
        now = _now(args.now)
        context = build_context(args)
    except UsageError as exc:
        print(f"countersign policy explain: error: {exc}", file=sys.stderr)
        return 2
    policy_set, errors, _ = load(args.dir)
    if policy_set is None:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    grants: GrantState | None = grant_state(
        "true" if args.grant else "false", pending=args.pending, now=now
    )
    decision = evaluate(policy_set, context, grants=grants, now=now, explain=True)
    if args.json:
        print(json.dumps(decision_json(decision, context, now), sort_keys=True))
    else:
        sys.stdout.write(render_text(decision, context, now))
    return 0


def build_context(args: argparse.Namespace) -> AccessContext:
    """The AccessContext the flags describe; UsageError for any value that cannot be one."""
    try:
        scheme, host, path = parse_url(args.url)
    except TargetError as exc:
        raise UsageError(f"--url {exc}") from None
    method = args.method.strip().upper()
    if not method.isalpha():
        raise UsageError(f"--method '{args.method}' is not an HTTP method")
    identity = _identity(args)
    client_ip: IPAddress | None = None
    if args.ip is not None:
        try:
            client_ip = ipaddress.ip_address(args.ip.strip())
        except ValueError:
            raise UsageError(f"--ip '{args.ip}' is not an IPv4 or IPv6 address") from None
    country = None
    if args.country is not None:
        country = args.country.strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise UsageError(f"--country '{args.country}' is not a two-letter country code")
    device = Device(managed=args.device_managed, tags=frozenset(args.device_tag))
    return build_access_context(
        host=host,
        path=path,
        method=method,
        scheme=scheme,
        identity=identity,
        signals=(client_ip, country, device),
    )


def _identity(args: argparse.Namespace) -> Identity | None:
    if args.email is None:
        extras = [f for f, v in (("--group", args.group), ("--amr", args.amr)) if v]
        extras += ["--claim"] if args.claim else []
        if extras:
            raise UsageError(f"{', '.join(extras)} describe a user; give --email too")
        return None
    email = args.email.strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or not domain or " " in email:
        raise UsageError(f"--email '{args.email}' is not an email address")
    claims: dict[str, Any] = {}
    for item in args.claim:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--claim '{item}' must look like name=value")
        parsed = claim_value(value)
        previous = claims.get(key.strip())
        if previous is None:
            claims[key.strip()] = parsed
        else:  # a repeated claim becomes a list, for `claim: {contains: ...}`
            items = previous if isinstance(previous, list) else [previous]
            claims[key.strip()] = [*items, parsed]
    return Identity(
        subject=email,
        email=email,
        groups=frozenset(g.strip() for g in args.group),
        amr=frozenset(a.strip().lower() for a in args.amr),
        claims=MappingProxyType(claims),
    )


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--now '{text}' is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a bare time is read as UTC, like the service
    return moment.astimezone(UTC)


def decision_json(decision: Decision, context: AccessContext, now: datetime) -> dict[str, Any]:
    """The decision as one JSON-ready object."""
    identity = context.identity
    return {
        "decision": decision.effect.value,
        "reasons": [str(reason) for reason in decision.reasons],
        "application": decision.application,
        "policy": decision.policy,
        "grant_id": decision.grant_id,
        "grant_expires_at": _iso(decision.grant_expires_at),
        "pending_request_id": decision.pending_request_id,
        "now": _iso(now),
        "request": {
            "method": context.method,
            "url": f"{context.scheme}://{context.host}{context.path}",
            "user": identity.user if identity else None,
            "groups": sorted(identity.groups) if identity else [],
            "ip": str(context.client_ip) if context.client_ip else None,
            "country": context.country,
            "device": {"managed": context.device.managed, "tags": sorted(context.device.tags)},
        },
        "explain": [
            {
                "policy": trace.policy,
                "action": trace.action,
                "matched": trace.matched,
                "reason": str(trace.reason),
                "rules": [
                    {
                        "section": rule.section,
                        "index": rule.index,
                        "selector": rule.selector,
                        "matched": rule.matched,
                        "reason": str(rule.reason),
                    }
                    for rule in trace.rules
                ],
            }
            for trace in decision.explain
        ],
    }


def render_text(decision: Decision, context: AccessContext, now: datetime) -> str:
    """A short header, then one row per policy and one indented row per rule."""
    identity = context.identity
    who = identity.user if identity else "anonymous"
    lines = [
        f"request      {context.method} {context.scheme}://{context.host}{context.path} as {who}"
        f" at {_iso(now)}",
        f"decision     {decision.effect.value}",
        f"reasons      {', '.join(decision.reasons) or '-'}",
        f"application  {decision.application or '-'}",
        f"policy       {decision.policy or '-'}",
    ]
    if decision.grant_expires_at is not None:
        lines.append(f"valid until  {_iso(decision.grant_expires_at)}")
    rows: list[tuple[str, str, str, str, str]] = []
    for number, trace in enumerate(decision.explain, 1):
        outcome = "MATCH" if trace.matched else "no"
        rows.append((f"{number}.", trace.policy, trace.action, outcome, str(trace.reason)))
        rows.extend(
            ("", f"  {rule.section:<8} {rule.selector}", "", _yes(rule.matched), str(rule.reason))
            for rule in trace.rules
        )
    if rows:
        lines += ["", *_table(("#", "policy / rule", "action", "matched", "reason"), rows)]
    elif decision.application is None:
        lines += ["", "No application serves this host and path, so no policy was evaluated."]
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in (header, *rows)
    ]


def _yes(matched: bool) -> str:
    return "yes" if matched else "no"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None

"""`countersign token mint`: print a token signed by the dev issuer, for curl and scripts."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.adapters.dev.issuer import DevIssuer, DevKeyError, DevKeyMissingError, key_file
from app.config import SettingsError, load_settings
from app.core.durations import DurationError, parse_duration


def register(sub: Any) -> None:
    """Add `token mint`."""
    parser = sub.add_parser("token", help="dev tokens (needs a service started in dev mode)")
    actions = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    mint = actions.add_parser(
        "mint",
        help="print a dev token",
        description="Print a token signed with the dev issuer key of a service run with --dev.",
    )
    mint.add_argument("--email", required=True, help="the user's email (also the subject)")
    mint.add_argument("--name", help="display name")
    mint.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    mint.add_argument("--amr", action="append", default=[], help="an auth method, e.g. mfa")
    mint.add_argument("--device-managed", action="store_true", help="claim a managed device")
    mint.add_argument("--device-tag", action="append", default=[], help="a device posture tag")
    mint.add_argument("--ttl", default="1h", help="lifetime, e.g. 15m, 1h (default 1h)")
    mint.add_argument("--data-dir", type=Path, help="DATA_DIR of the service (default: settings)")
    mint.set_defaults(handler=run)


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 with the token on stdout; 1 without a dev key; 2 for bad input."""
    try:
        settings = load_settings(os.environ if environ is None else environ)
    except SettingsError as error:
        print(f"countersign: {error}", file=sys.stderr)
        return 2
    try:
        ttl = parse_duration(args.ttl)
    except DurationError as error:
        print(f"countersign: --ttl: {error}", file=sys.stderr)
        return 2
    if "@" not in args.email:
        print("countersign: --email: expected an email address", file=sys.stderr)
        return 2
    data_dir = args.data_dir if args.data_dir is not None else settings.data_dir
    try:
        issuer = DevIssuer.load(data_dir, public_url=settings.public_url)
    except DevKeyMissingError:
        print(
            f"countersign: no dev issuer key at {key_file(data_dir)}; "
            "start the service with `make run` first",
            file=sys.stderr,
        )
        return 1
    except DevKeyError as error:
        print(f"countersign: {error}", file=sys.stderr)
        return 1
    token = issuer.mint(
        email=args.email,
        name=args.name,
        groups=args.group,
        amr=args.amr,
        device_managed=True if args.device_managed else None,
        device_tags=args.device_tag,
        claims=settings.claims,
        now=time.time(),
        ttl=ttl,
    )
    print(token)
    return 0

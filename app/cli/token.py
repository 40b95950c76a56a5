"""`countersign token mint`: print a token signed by the dev issuer, for curl and scripts.
`countersign token service`: make a service token for the REST API and its config entry."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.config import SettingsError, load_settings
from app.config.service_tokens import SERVICE_TOKEN_NAME
from app.core.durations import DurationError, parse_duration
from app.services.principal import SCOPES


def register(sub: Any) -> None:
    """Add `token mint` and `token service`."""
    parser = sub.add_parser("token", help="dev tokens and REST API service tokens")
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
    service = actions.add_parser(
        "service",
        help="make a service token for the REST API",
        description="Print a new random service token, then the config file entry that accepts "
        "it. Only the token's SHA-256 goes into the config; the token is shown once.",
    )
    service.add_argument("--name", required=True, help="its name, as the audit log shows it")
    service.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=sorted(SCOPES),
        help="a scope it grants (repeatable)",
    )
    service.set_defaults(handler=run_service)


def run_service(args: argparse.Namespace) -> int:
    """Exit 0 with the token on the first line and its `service_tokens` entry on the second."""
    # Imported here: it loads the web framework, which every other command (and `countersign
    # --help`) would otherwise pay for at start.
    from app.adapters.api.v1.auth import SERVICE_TOKEN_PREFIX  # noqa: PLC0415

    if not SERVICE_TOKEN_NAME.match(args.name):
        print("countersign: --name: use 1-64 letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    token = SERVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    scopes = ", ".join(json.dumps(scope) for scope in sorted(set(args.scope)))
    print(token)
    print(f'- {{name: {json.dumps(args.name)}, sha256: "{digest}", scopes: [{scopes}]}}')
    print(
        "countersign: add the second line under `service_tokens:` in the config file "
        "(COUNTERSIGN_CONFIG) and give the first to the tool; it is not stored anywhere.",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Exit 0 with the token on stdout; 1 without a dev key; 2 for bad input."""
    from app.adapters.dev.issuer import (  # noqa: PLC0415  (loads the web framework: see above)
        DevIssuer,
        DevKeyError,
        DevKeyMissingError,
        key_file,
    )

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
    data_dir = args.data_dir if args.data_dir is not None else settings.server.data_dir
    try:
        issuer = DevIssuer.load(data_dir, public_url=settings.server.public_url, recorded=True)
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
        claims=settings.identity.claims,
        now=time.time(),
        ttl=ttl,
    )
    print(token)
    return 0

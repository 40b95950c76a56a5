"""The `countersign` command: one sub-command module per area, loaded only when used."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app import __version__

#: sub-command → module under app.cli that defines `register(subparsers)`.
COMMANDS = {
    "serve": "serve",
    "policy": "policy",
    "token": "token",
    "requests": "requests",
    "grants": "grants",
    "sessions": "sessions",
    "audit": "audit",
    "notify": "notify",
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="countersign", description="Countersign: a zero-trust policy decision point."
    )
    parser.add_argument("--version", action="version", version=f"countersign {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS.values():
        module = importlib.import_module(f"app.cli.{module_name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

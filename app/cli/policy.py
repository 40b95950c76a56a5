"""`countersign policy check|explain|test|impact|schema`: validate, question, test a policy
directory, and replay recorded decisions through a proposed one.

Exit codes: 0 all good; 1 the policies (or their tests) are wrong, with every problem printed
one per line on stderr in the compiler's `file:line:column path: message [code]` form; 2 the
command line itself is wrong. No input, however broken, ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app.cli.policy_explain import explain_command, register_explain
from app.cli.policy_impact import impact_command, register_impact
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile import compile_policy_set
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.policy_set import PolicySet
from app.core.policy.schema import policy_schema_json
from app.services.policy_files import PolicyDirectoryError, display_path, read_sources
from app.services.policy_tests import parse_suites, run_suite

DEFAULT_DIR = "policy_rules"
_NO_APPS = "no application files (*.yaml); every request would be denied"

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    """Add `policy` and its sub-commands to the `countersign` parser."""
    parser = subparsers.add_parser(
        "policy",
        help="check, explain and test a policy directory",
        description="Work with a policy directory (apps/*.yaml, tests/*.yaml, schema.json).",
    )
    sub = parser.add_subparsers(dest="policy_command", required=True, metavar="SUBCOMMAND")

    check = sub.add_parser("check", help="compile every application file and report all errors")
    check.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="policy directory")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=_guarded(check_command))

    explain = sub.add_parser(
        "explain", help="show the decision for one hypothetical request, rule by rule"
    )
    register_explain(explain, default_dir=DEFAULT_DIR)
    explain.set_defaults(handler=_guarded(lambda args: explain_command(args, load_policies)))

    test = sub.add_parser("test", help="run the policy tests under DIR/tests")
    test.add_argument("dir", nargs="?", default=DEFAULT_DIR, help="policy directory")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.set_defaults(handler=_guarded(test_command))

    impact = sub.add_parser(
        "impact", help="replay recorded decisions through two policy sets: who gains, who loses"
    )
    register_impact(impact)
    impact.set_defaults(handler=_guarded(lambda args: impact_command(args, load_policies)))

    schema = sub.add_parser("schema", help="print the JSON Schema of an application file")
    schema.add_argument("--write", metavar="FILE", help="write it to FILE instead")
    schema.set_defaults(handler=_guarded(schema_command))


def load_policies(directory: str) -> tuple[PolicySet | None, list[PolicyError], int]:
    """Compile `directory/apps`: the set (None on any error), every error, and the file count.

    Raises PolicyDirectoryError when the directory or its apps/ folder is missing.
    """
    sources, errors = read_sources(directory, "apps")
    try:
        policy_set = compile_policy_set(sources)
    except PolicyCompileError as exc:
        return None, sorted([*errors, *exc.errors]), len(sources)
    if errors:
        return None, sorted(errors), len(sources)
    return policy_set, [], len(sources)


def check_command(args: argparse.Namespace) -> int:
    """Exit 0 with a one-line summary when the directory compiles; else every error, exit 1."""
    shown = display_path(Path(args.dir))
    try:
        policy_set, errors, files = load_policies(args.dir)
    except PolicyDirectoryError as exc:
        policy_set, errors, files = None, [exc.as_error()], 0
    if policy_set is not None and files == 0:  # valid but useless: everything would be denied
        policy_set = None
        errors = [
            PolicyError(f"{shown}/apps", 0, 0, "$", PolicyErrorCode.FILES_NO_APPLICATIONS, _NO_APPS)
        ]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": policy_set is not None,
                    "directory": shown,
                    "files": files,
                    "applications": len(policy_set.applications) if policy_set else 0,
                    "errors": [error.as_dict() for error in errors],
                },
                sort_keys=True,
            )
        )
        return 0 if policy_set is not None else 1
    if policy_set is None:
        print_errors(errors)
        return 1
    apps = policy_set.applications.values()
    policies = sum(len(app.policies) for app in apps)
    print(
        f"{shown}: OK, {_count(len(apps), 'application')} with "
        f"{_count(policies, 'policy', 'policies')} in {_count(files, 'file')}"
    )
    return 0


def test_command(args: argparse.Namespace) -> int:
    """Run every case of every test file; print each failure, then a summary line."""
    policy_set, errors, _ = load_policies(args.dir)
    if policy_set is None:
        print_errors(errors)
        print(f"{display_path(Path(args.dir))}: the policies do not compile", file=sys.stderr)
        return 1
    sources, read_errors = read_sources(args.dir, "tests")
    if not sources and not read_errors:
        print(f"{display_path(Path(args.dir))}/tests: no policy test files", file=sys.stderr)
        return 1
    suites, parse_errors = parse_suites(sources)
    problems = sorted([*read_errors, *parse_errors])
    print_errors(problems)
    passed = failed = 0
    for suite in suites:
        for result in run_suite(policy_set, suite):
            if result.passed:
                passed += 1
                if args.verbose:
                    print(f"ok    {result.file}: case {result.case}")
            else:
                failed += 1
                print(f"FAIL  {result}")
    broken = len({error.file for error in problems})
    summary = f"policy tests: {passed} passed, {failed} failed in {_count(len(suites), 'file')}"
    if broken:
        summary += f"; {_count(broken, 'test file')} could not be read"
    print(summary)
    return 1 if failed or problems else 0


def schema_command(args: argparse.Namespace) -> int:
    """Print the schema, or write it to `--write FILE` (what `make schema` does)."""
    text = policy_schema_json()
    if not args.write:
        sys.stdout.write(text)
        return 0
    target = Path(args.write)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"{display_path(target)}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {display_path(target)}")
    return 0


def print_errors(errors: Iterable[PolicyError]) -> None:
    """One error per line on stderr, in the compiler's format."""
    for error in errors:
        print(error, file=sys.stderr)


def _guarded(handler: Handler) -> Handler:
    """Turn the failures an operator can cause (missing folder, unreadable tree) into one line."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except PolicyDirectoryError as exc:
            print(exc.as_error(), file=sys.stderr)
            return 1
        except OSError as exc:
            where = exc.filename if exc.filename is not None else vars(args).get("dir", "")
            message = f"cannot read: {exc.strerror or exc}"
            print(
                PolicyError(str(where), 0, 0, "$", PolicyErrorCode.FILES_UNREADABLE, message),
                file=sys.stderr,
            )
            return 1
        except Exception as exc:  # a bug, but the operator still gets one line, not a traceback
            print(f"countersign: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1

    return run


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"

"""`countersign policy impact`: who gains and who loses access if OLD_DIR becomes NEW_DIR.

Recorded decisions (decision log lines, or the capture file of COUNTERSIGN_DECISION_CAPTURE;
`.gz` files and `-` for standard input too) are replayed through both policy sets. Exit codes:
0 the report is printed; 1 a policy set does not compile or a decisions file cannot be read;
2 the command line is wrong; 3 `--fail-on` found what it was asked to fail on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from app.core.policy.errors import PolicyError
from app.core.policy.policy_set import PolicySet
from app.services.impact import Tally, replay, report_dict

Loader = Callable[[str], tuple[PolicySet | None, list[PolicyError], int]]
#: Exit code when --fail-on finds what it looks for.
FOUND = 3
_FAIL_ON = {"gains": ("gains",), "losses": ("losses",), "any": ("gains", "losses", "changed")}


def register_impact(parser: argparse.ArgumentParser) -> None:
    """The flags of `policy impact`."""
    add = parser.add_argument
    add("--from", dest="before", required=True, metavar="OLD_DIR", help="policy set in force")
    add("--to", dest="after", required=True, metavar="NEW_DIR", help="proposed policy set")
    add(
        "--decisions",
        nargs="+",
        required=True,
        metavar="FILE",
        help="decision log or capture files (JSON lines; .gz; - for standard input)",
    )
    add("--json", action="store_true", help="print one JSON object")
    add(
        "--fail-on",
        choices=sorted(_FAIL_ON),
        help="exit 3 when anyone gains access, loses access, or either (or any outcome changes)",
    )


def impact_command(args: argparse.Namespace, load: Loader) -> int:
    """Compile both sets, replay every file, print the report."""
    sets: list[PolicySet] = []
    for directory in (args.before, args.after):
        policy_set, errors, _ = load(directory)
        if policy_set is None:
            for error in errors:
                print(error, file=sys.stderr)
            print(f"{directory}: the policies do not compile", file=sys.stderr)
            return 1
        sets.append(policy_set)
    before, after = sets
    tally = Tally(before, after)
    for name in args.decisions:
        try:
            with _lines(name) as lines:
                tally.add_lines(lines)
        except (OSError, EOFError) as exc:
            print(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 1
    report = report_dict(replay(tally), tally)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print_report(report, files=len(args.decisions))
    wanted = _FAIL_ON.get(args.fail_on or "", ())
    return FOUND if any(report[kind] for kind in wanted) else 0


def print_report(report: dict[str, Any], *, files: int) -> None:
    """The report for a person: a summary line, then each move with examples."""
    print(
        f"Replayed {report['decisions']:,} decisions ({report['distinct_inputs']:,} distinct "
        f"inputs) from {files} file{'s' if files != 1 else ''}; "
        f"{report['ignored_lines']:,} other lines, "
        f"{report['incomplete_records']:,} incomplete records."
    )
    for kind, title, mark in (
        ("gains", "Gain access", "+"),
        ("losses", "Lose access", "-"),
        ("changed", "Decided by another policy", "~"),
    ):
        shifts = report[kind]
        print(f"{title}: {len(shifts)}")
        for shift in shifts:
            people = shift["people"]
            who = "person" if people == 1 else "people"
            print(
                f"  {mark} {shift['application'] or '(no application)'}: "
                f"{_outcome(shift['before'])} -> {_outcome(shift['after'])}: "
                f"{shift['decisions']:,} decisions, {people:,} {who}"
            )
            for example in shift["examples"]:
                print(
                    f"      e.g. {example['user'] or '(anonymous)'} {example['method']} "
                    f"{example['url']} at {example['at']}"
                )
    print(f"Unchanged: {report['unchanged']:,} decisions")
    for note in report["notes"]:
        print(f"Note: {note}")


def _outcome(outcome: dict[str, Any]) -> str:
    policy = outcome["policy"]
    by = f' by "{policy}"' if policy else ""
    return f"{outcome['access']} ({outcome['reason'] or outcome['effect']}{by})"


@contextmanager
def _lines(name: str) -> Iterator[Iterable[bytes]]:
    """The file's lines as bytes: standard input for '-', gzip for '.gz'."""
    if name == "-":
        yield sys.stdin.buffer
    elif name.endswith(".gz"):
        with gzip.open(name, "rb") as handle:
            yield handle
    else:
        with open(name, "rb", buffering=1024 * 1024) as handle:
            yield handle

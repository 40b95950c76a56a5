"""The fault suite's table: one row per scenario (scenario, figure, verdict), kept in a JSON
lines file so the session's end can print it and an operator can keep it.

`FAULTS_RESULTS` names the file; by default it is tests/artifacts/faults.jsonl.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "artifacts" / "faults.jsonl"
PASS = "pass"
FAIL = "FAIL"
#: Whether this process started a table: a run that collected no scenario prints nothing.
_started: list[bool] = []


@dataclass(frozen=True, slots=True)
class Row:
    """What one scenario measured and whether that meets its bar."""

    scenario: str
    figure: str
    verdict: str


def results_file() -> Path:
    """Where rows go."""
    return Path(os.environ.get("FAULTS_RESULTS", str(DEFAULT_FILE)))


def reset() -> None:
    """Start an empty table (once per test session)."""
    path = results_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    _started.append(True)


def record(scenario: str, figure: str, *, ok: bool) -> Row:
    """Append a row; `ok` is the scenario's verdict."""
    row = Row(scenario, figure, PASS if ok else FAIL)
    path = results_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(asdict(row)) + "\n")
    return row


def rows() -> list[Row]:
    """Every row recorded so far, in order."""
    path = results_file()
    if not _started or not path.is_file():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def table(found: list[Row]) -> str:
    """The rows as a plain-text table with a header."""
    header = Row("scenario", "figure", "verdict")
    everything = [header, *found]
    widths = [max(len(getattr(r, name)) for r in everything) for name in Row.__slots__]
    lines = []
    for index, row in enumerate(everything):
        cells = [
            getattr(row, name).ljust(width)
            for name, width in zip(Row.__slots__, widths, strict=True)
        ]
        lines.append(" | ".join(cells).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)

"""What goes wrong in configuration: one bad value, the one-line report of all of them, and
the marker of a value already reported."""

from __future__ import annotations

from collections.abc import Callable

#: Where a problem is (`COUNTERSIGN_PORT`, `port in /etc/countersign.yaml`) and what it is.
Report = Callable[[str, str], None]


class SettingsError(ValueError):
    """One or more bad settings; `str()` is a single line: `NAME: problem; NAME: problem`."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        self.problems = tuple((where, " ".join(problem.split())) for where, problem in problems)
        super().__init__("; ".join(f"{where}: {problem}" for where, problem in self.problems))


class BadValueError(ValueError):
    """A value parser's complaint about one value; the caller adds where the value came from
    and it becomes one entry of a SettingsError."""


class _Invalid:
    """The value of a setting already reported as bad: later checks skip it."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()

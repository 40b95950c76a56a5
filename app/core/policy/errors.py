"""Located compile errors: file, line, column, JSON path, stable code and a plain message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.policy.codes import PolicyErrorCode


@dataclass(frozen=True, slots=True, order=True)
class PolicyError:
    """One problem in a policy file. `line` and `column` are 1-based; 0 means unknown."""

    file: str
    line: int
    column: int
    path: str
    code: PolicyErrorCode
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column} {self.path}: {self.message} [{self.code}]"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form for the API and `policy check --json`."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "code": self.code,
            "message": self.message,
        }


class PolicyCompileError(Exception):
    """Raised with every error found, sorted by file and position."""

    def __init__(self, errors: Iterable[PolicyError]) -> None:
        self.errors: tuple[PolicyError, ...] = tuple(sorted(errors))
        super().__init__(f"{len(self.errors)} policy error(s)")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" suffix when a close match exists, else empty."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""

"""Reading a policy directory from disk into `Source`s, with located errors for bad files.

The core compiles text; this module is the only place that walks `apps/` and `tests/`. A file
that cannot become text (too large, not UTF-8, unreadable, not a regular file) is reported as a
`PolicyError` with its place, like any compile error, so one run shows every problem.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile import Source
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.source import MAX_SOURCE_BYTES

SUFFIXES = (".yaml", ".yml")


class PolicyDirectoryError(Exception):
    """The policy directory, or the folder inside it that was asked for, is not there."""

    def __init__(self, directory: str, message: str) -> None:
        super().__init__(f"{directory}: {message}")
        self.directory = directory
        self.message = message

    def as_error(self) -> PolicyError:
        """The same problem as a PolicyError (line 0: no place inside a file)."""
        return PolicyError(
            self.directory, 0, 0, "$", PolicyErrorCode.FILES_NO_DIRECTORY, self.message
        )


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else as given."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def read_sources(
    directory: Path | str, folder: str = "apps"
) -> tuple[list[Source], list[PolicyError]]:
    """Every `*.yaml`/`*.yml` under `directory/folder`, sorted, plus errors for unreadable ones.

    Raises PolicyDirectoryError when `directory` or `directory/folder` does not exist.
    """
    root = Path(directory)
    if not root.is_dir():
        problem = "not a directory" if root.exists() else "no such policy directory"
        raise PolicyDirectoryError(display_path(root), problem)
    base = root / folder
    if not base.is_dir():
        raise PolicyDirectoryError(
            display_path(root), f"no '{folder}/' folder in this policy directory"
        )
    sources: list[Source] = []
    errors: list[PolicyError] = []
    for path in _yaml_files(base):
        shown = display_path(path)
        text, error = _read_text(path, shown)
        if error is not None:
            errors.append(error)
        elif text is not None:
            sources.append(Source(shown, text))
    return sources, errors


def load_sources(directory: Path | str) -> list[Source]:
    """The application files of a policy directory, sorted by path.

    Raises PolicyDirectoryError for a missing directory and PolicyCompileError (with every
    located error) when some file cannot be read as UTF-8 text of at most 1 MB.
    """
    sources, errors = read_sources(directory, "apps")
    if errors:
        raise PolicyCompileError(errors)
    return sources


def _yaml_files(base: Path) -> list[Path]:
    """Policy files below `base`, in a stable order; symlinked folders are not followed."""
    found: list[Path] = []
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(root, name)
            for name in files
            if name.endswith(SUFFIXES) and not name.startswith(".")
        )
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def _read_text(path: Path, shown: str) -> tuple[str | None, PolicyError | None]:
    """The file's text, or a located error saying why it cannot be used."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, _file_error(shown, PolicyErrorCode.FILES_NOT_A_FILE, "not a regular file")
        if info.st_size > MAX_SOURCE_BYTES:
            return None, _file_error(
                shown, PolicyErrorCode.YAML_TOO_LARGE, "file is larger than 1 MB"
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        return None, _file_error(
            shown, PolicyErrorCode.FILES_UNREADABLE, f"cannot read the file: {exc.strerror or exc}"
        )
    if len(data) > MAX_SOURCE_BYTES:
        return None, _file_error(shown, PolicyErrorCode.YAML_TOO_LARGE, "file is larger than 1 MB")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, PolicyError(
            shown,
            line,
            column,
            "$",
            PolicyErrorCode.FILES_NOT_UTF8,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
        )


def _file_error(shown: str, code: PolicyErrorCode, message: str) -> PolicyError:
    return PolicyError(shown, 1, 1, "$", code, message)

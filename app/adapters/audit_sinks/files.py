"""The file sink: records appended as JSON lines, the file rotated by size.

Before a line would take the file past `max_bytes` it is renamed `<path>.1` (the older ones
move up to `.2` ... `.<backups>`; the oldest goes) and a new file is begun, so a log shipper
that follows the name sees whole lines only. Each batch is flushed and, by default, fsynced
before the cursor moves; a file renamed by someone else is noticed and the name followed. The
file is its own record of what it holds: at start the newest
id is read back from its last line (a torn last line, left by a crash mid-write, is cut off),
and entries up to that id are not written again, so a crash between writing and moving the
cursor duplicates nothing in this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from app.adapters.audit_sinks.base import SinkError
from app.adapters.audit_sinks.records import AuditRecord
from app.config.audit_sinks import FileSink

#: How far back from the end the last line is looked for (entries are a few KiB at most).
TAIL = 1 << 20
#: Audit entries name people and their reasons: readable by the owner and its group only.
MODE = 0o640


class FileSender:
    """Appends to one file, rotating it; every file operation runs in a worker thread."""

    def __init__(self, config: FileSink) -> None:
        self._config = config
        self._file: BinaryIO | None = None
        self._size = 0
        self._last: str | None = None
        self._opened = False

    async def send(self, records: Sequence[AuditRecord]) -> None:
        """Append the batch (rotating where needed), flushed and fsynced."""
        if not records:
            return
        try:
            await asyncio.to_thread(self._write, [(r.json() + "\n").encode() for r in records])
        except OSError as error:
            await self.aclose()
            raise SinkError(
                f"cannot write {self._config.path}: {error.strerror or error}"
            ) from None
        self._last = records[-1].id

    async def last_held(self) -> str | None:
        """The id on the newest line of the file (or of `.1` when the file is empty)."""
        try:
            await asyncio.to_thread(self._open)
        except OSError as error:
            raise SinkError(f"cannot open {self._config.path}: {error.strerror or error}") from None
        return self._last

    async def aclose(self) -> None:
        """Close the file; the next send opens it again and reads its tail."""
        handle, self._file, self._opened = self._file, None, False
        if handle is not None:
            await asyncio.to_thread(handle.close)

    # -- in the worker thread ------------------------------------------------------------------
    def _open(self) -> None:
        if self._opened and self._file is not None:
            if _same_file(self._config.path, self._file):
                return
            # Renamed or removed by someone else (logrotate, another process of this host
            # that rotated it): go on in the file that now has the name.
            self._file.close()
            self._file, self._opened = None, False
        path = self._config.path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, MODE)
        handle = os.fdopen(fd, "r+b")
        self._size = _cut_torn_line(handle)
        self._last = _last_id(handle) or _last_id_of(_backup(path, 1))
        self._file, self._opened = handle, True

    def _write(self, lines: list[bytes]) -> None:
        self._open()
        for line in lines:
            if self._size and self._size + len(line) > self._config.max_bytes:
                self._rotate()
            assert self._file is not None  # opened above, reopened by _rotate
            self._file.write(line)
            self._size += len(line)
        assert self._file is not None
        self._file.flush()
        if self._config.fsync:
            os.fsync(self._file.fileno())

    def _rotate(self) -> None:
        """Close the full file, shift the backups up by one, and begin a new file."""
        path, backups = self._config.path, self._config.backups
        assert self._file is not None
        self._file.flush()
        if self._config.fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        if backups == 0:
            path.unlink()
        else:
            for number in range(backups - 1, 0, -1):
                older = _backup(path, number)
                if older.exists():
                    older.replace(_backup(path, number + 1))
            path.replace(_backup(path, 1))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, MODE)
        self._file, self._size = os.fdopen(fd, "r+b"), 0


def _same_file(path: Path, handle: BinaryIO) -> bool:
    """Whether `path` still names the open file."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _backup(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}")


def _cut_torn_line(handle: BinaryIO) -> int:
    """Drop a last line without its newline (a write cut short); the file's size after."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return 0
    start = max(0, size - TAIL)
    handle.seek(start)
    tail = handle.read()
    if tail.endswith(b"\n"):
        return size
    keep = start + tail.rfind(b"\n") + 1 if b"\n" in tail else start
    handle.truncate(keep)
    return keep


def _last_id(handle: BinaryIO) -> str | None:
    """The `id` of the last line of an open file, if it has one."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - TAIL))
    lines = handle.read().splitlines()
    for line in reversed(lines):
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            entry_id = json.loads(line).get("id")
            if isinstance(entry_id, str):
                return entry_id
    return None


def _last_id_of(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return _last_id(handle)
    except OSError:
        return None

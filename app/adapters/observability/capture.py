"""The decision capture file: decision records appended as whole JSON lines.

Several worker processes may append to one file: it is opened with O_APPEND and written only
in whole lines, each batch by one `write` (at most BATCH bytes), so lines of two workers never
interleave. Batches go out every `interval` seconds, when they grow large, and at exit; a
crash can lose the last fraction of a second of records, never a decision. The file is
created readable by its owner only: records name people and where they went.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import time
from pathlib import Path

#: The most one write appends (whole lines; a longer single line is written alone).
BATCH = 64 * 1024


class CaptureFile:
    """Appends lines to `path`; a failing disk loses records, never a request."""

    def __init__(self, path: Path, *, interval: float = 0.25) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._interval = interval
        self._pending: list[bytes] = []
        self._size = 0
        self._last = time.monotonic()
        atexit.register(self.close)

    def write(self, line: bytes) -> None:
        """Queue one record (a JSON line without its newline)."""
        self._pending.append(line + b"\n")
        self._size += len(line) + 1
        if self._size >= BATCH or time.monotonic() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Append what is queued, in batches of whole lines."""
        pending, self._pending, self._size = self._pending, [], 0
        self._last = time.monotonic()
        batch: list[bytes] = []
        size = 0
        for line in pending:
            if batch and size + len(line) > BATCH:
                self._append(b"".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            self._append(b"".join(batch))

    def close(self) -> None:
        """Flush and close (at exit, or when logging is configured again)."""
        if self._fd < 0:
            return
        self.flush()
        fd, self._fd = self._fd, -1
        with contextlib.suppress(OSError):
            os.close(fd)

    def _append(self, data: bytes) -> None:
        if self._fd < 0:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:  # a full or failing disk: the records are lost, the service goes on
            pass


def capture_problem(path: Path) -> str | None:
    """Why the service could not append to the capture file `path`, in one line, or None."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        return (
            f"cannot write the decision capture {path}: {exc.strerror or exc} "
            "(COUNTERSIGN_DECISION_CAPTURE)"
        )
    return None

"""Start a real server process for a test, wait until it answers, and stop it without leftovers.

Each process runs in its own session (so its workers can be signalled as a group) with stdout
and stderr captured in a log file. A process that dies or does not answer in time raises
ProcessStartError carrying the end of its log, which is what one needs to see in a failed run.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from tests.support.ports import LOOPBACK, is_listening

POLL_INTERVAL = 0.05
TAIL_LINES = 40


class ProcessStartError(RuntimeError):
    """A process exited early or did not become ready in time."""


class ManagedProcess:
    """One child process, its log file, and a clean way to stop it and all its children."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] | None = log_path.open("wb")
        try:
            self.popen: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError:
            self._close_log()
            raise

    @property
    def pid(self) -> int:
        """The process id (also its process-group id)."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of the captured output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, why: str) -> ProcessStartError:
        """Stop the process and build the error to raise, with the end of its log."""
        self.stop()
        return ProcessStartError(
            f"{self.name} {why} (log {self.log_path}):\n{self.log_tail()}\ncommand: "
            + " ".join(self.argv)
        )

    def wait_until(self, check: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll `check` until true; raise with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise self.fail(f"exited with status {self.popen.returncode} before {what}")
            if check():
                return
            if time.monotonic() > deadline:
                raise self.fail(f"did not get to {what} within {timeout:.0f} s")
            time.sleep(POLL_INTERVAL)

    def wait_for_port(self, port: int, *, timeout: float = 15.0) -> None:
        """Wait until the process accepts TCP connections on 127.0.0.1:port."""
        self.wait_until(lambda: is_listening(port), timeout=timeout, what=f"listening on {port}")

    def wait_for_http(
        self,
        port: int,
        path: str = "/",
        *,
        host: str | None = None,
        ready: Callable[[int], bool] = lambda status: status < 500,
        timeout: float = 15.0,
    ) -> None:
        """Wait until GET http://127.0.0.1:port/path (with an optional Host) gets a ready status."""

        def check() -> bool:
            status = http_status(port, path, host=host)
            return status is not None and ready(status)

        self.wait_until(check, timeout=timeout, what=f"answering GET {path} on {port}")

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `timeout`, and reap everything."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.popen.wait()
        # Workers orphaned by a master that died hard are still in the group.
        _signal_group(self.pid, signal.SIGKILL)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def http_status(
    port: int, path: str = "/", *, host: str | None = None, timeout: float = 1.0
) -> int | None:
    """The status of GET http://127.0.0.1:port/path, or None when nothing answers."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        headers = {"Host": host} if host else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

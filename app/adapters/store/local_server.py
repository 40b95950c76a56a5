"""Where the private Redis server of the `countersign serve` running on a DATA_DIR listens.

With no COUNTERSIGN_REDIS_URL, `countersign serve` starts a Redis-compatible server on a random
loopback port (app.adapters.store.embedded). The commands that read Redis directly (`countersign
audit verify|export`) run beside it, on the same DATA_DIR and with the same missing URL, so
serve records the URL in DATA_DIR/redis.url while the server runs and they read it here.

The file alone proves nothing: a service killed hard leaves it behind, and its port may since
belong to another server. The URL is used only while the process that wrote it holds DATA_DIR's
lock (the one `countersign serve` takes for its whole life, with its pid inside), so a stale
file is never followed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

#: The file, in DATA_DIR, holding the URL of the running service's private server.
URL_FILE = "redis.url"
#: The lock `countersign serve` holds on DATA_DIR while it runs (app.cli.serve.LOCK_NAME).
LOCK_NAME = "countersign.lock"


class NoLocalServerError(RuntimeError):
    """No Redis URL is configured and no service runs a private server on DATA_DIR; `str()` is
    the one line to print."""


def record(data_dir: Path, url: str) -> Path:
    """Write `url` and this process's pid to DATA_DIR/redis.url, readable by the owner only,
    and return the path. Written to a temporary name and renamed: never read half written."""
    path = data_dir / URL_FILE
    partial = data_dir / f".{URL_FILE}.{os.getpid()}"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"url": url, "pid": os.getpid()}) + "\n")
    os.chmod(partial, 0o600)  # O_CREAT's mode applies only to a file it creates
    os.replace(partial, path)
    return path


def forget(data_dir: Path) -> None:
    """Remove the record when the server stops."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / URL_FILE).unlink()


def running_url(data_dir: Path) -> str:
    """The URL of the private server of the service running on `data_dir`.

    Raises NoLocalServerError when no service holds the directory or it runs no private server
    (it was given a COUNTERSIGN_REDIS_URL, which the caller must then be given too)."""
    holder = _holder(data_dir / LOCK_NAME)
    if holder is None:
        raise NoLocalServerError(
            f"no Redis to read: set COUNTERSIGN_REDIS_URL, or start the service (`make run`) "
            f"with COUNTERSIGN_DATA_DIR={data_dir}"
        )
    found = _recorded(data_dir / URL_FILE)
    if found is None or found[1] != holder:
        raise NoLocalServerError(
            f"the service running on COUNTERSIGN_DATA_DIR={data_dir} uses a Redis of its own: "
            "set COUNTERSIGN_REDIS_URL to the same URL"
        )
    return found[0]


def redis_url(configured: str | None, data_dir: Path) -> str:
    """The configured URL when there is one, else the running service's private server."""
    return configured if configured else running_url(data_dir)


def _holder(lock: Path) -> str | None:
    """The pid written in `lock` while a process holds it (flock), else None."""
    try:
        handle = lock.open("r", encoding="utf-8")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or None
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _recorded(path: Path) -> tuple[str, str] | None:
    """The URL and the writer's pid of a record, or None when there is none or it is unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    url, pid = record.get("url"), record.get("pid")
    if not isinstance(url, str) or not url or not isinstance(pid, int):
        return None
    return url, str(pid)

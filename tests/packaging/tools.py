"""Locate the checkers the packaging tests run (hadolint, kubernetes-validate, promtool, ...).

Python tools come from the project's virtualenv (dev extras); Debian's come from
`make packaging-tools`. A missing one skips locally and fails under `CI=true`, like every other
real component (tests/support/components.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.support import components

ROOT = components.REPO_ROOT
DEPLOY = ROOT / "deploy"
#: How the Debian packages the checks need are installed.
DEBIAN_HINT = "make packaging-tools (apt-get install prometheus systemd buildah podman runc)"


def which(name: str) -> str | None:
    """`name` from the project's virtualenv, else from PATH."""
    candidate = components.VENV_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def venv_tool(name: str, package: str) -> str:
    """A console script of a pip package in the dev extras."""
    found = which(name)
    if found is None:
        components.missing(name, f"{components.INSTALL} (pip {package})")
    return found


def debian_tool(name: str, package: str) -> str:
    """A program from a Debian package that `make packaging-tools` installs."""
    found = which(name)
    if found is None:
        components.missing(name, f"{DEBIAN_HINT}; it comes with Debian's {package}")
    return found


def run(argv: Sequence[str], *, cwd: Path | None = None, timeout: float = 120) -> str:
    """Run a checker; on a non-zero exit fail with everything it printed."""
    result = subprocess.run(
        list(argv), capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{output}"
    return output

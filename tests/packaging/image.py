"""Build the Dockerfile with buildah and run the image with podman, for test_image.py.

No container registry is reachable from the test machines, only Debian's and PyPI's, so the
image is built on a Debian base made here with debootstrap (python3 and its venv module, as the
Dockerfile's PYTHON_IMAGE requires) and kept in buildah's storage for the next run. The build
itself is the real one: both stages of the Dockerfile, `pip install .` from PyPI.

Containers need the kernel's namespaces. Where the kernel refuses them the tests skip, also
under CI=true, and say what the kernel answered; any other failure fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.tools import ROOT, debian_tool

#: The name of the base image this module makes (the suffix changes with its recipe).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
TAG = "localhost/countersign:packaging-test"
BUILD_TIMEOUT = 900
#: What a kernel or runtime says when it will not make a container at all.
_REFUSALS = re.compile(
    r"operation not permitted|permission denied|not supported|cgroups?|namespace|"
    r"unshare|newuidmap|clone",
    re.IGNORECASE,
)
#: podman settings that work without systemd and with a hybrid cgroup hierarchy (seen on the
#: test machines: crun refuses hybrid cgroups, and the default rlimits exceed the hard ones).
PODMAN_RUN = (
    "run",
    "--runtime", "runc",
    "--cgroup-manager", "cgroupfs",
    "--ulimit", "nofile=4096:4096",
    "--ulimit", "nproc=4096:4096",
    "--no-healthcheck",
    "--network", "host",
)  # fmt: skip


class CommandFailedError(AssertionError):
    """A build or container command exited non-zero."""


def _run(argv: Sequence[str], *, timeout: float = 300, input_: bytes | None = None) -> str:
    result = subprocess.run(
        list(argv), capture_output=True, input=input_, timeout=timeout, check=False
    )
    output = (result.stdout + result.stderr).decode(errors="replace")
    if result.returncode != 0:
        raise CommandFailedError(f"{' '.join(argv)} exited {result.returncode}:\n{output[-6000:]}")
    return result.stdout.decode(errors="replace")


def skip_if_the_kernel_refuses(argv: Sequence[str], what: str) -> None:
    """Run a trivial container command; if the kernel refuses it, skip with its words."""
    try:
        _run(argv, timeout=120)
    except CommandFailedError as exc:
        if _REFUSALS.search(str(exc)):
            pytest.skip(f"the kernel refuses {what} on this machine: {exc}")
        raise


def require_root() -> None:
    """buildah's and podman's storage and debootstrap want root here."""
    if os.geteuid() != 0:
        from tests.support import components  # noqa: PLC0415  (only this path needs it)

        components.missing("root (for buildah, podman and debootstrap)", "run the tests as root")


def _image_exists(buildah: str, name: str) -> bool:
    result = subprocess.run(
        [buildah, "inspect", "--type", "image", name], capture_output=True, check=False
    )
    return result.returncode == 0


def base_image(buildah: str) -> str:
    """A Debian base with python3 and venv in buildah's storage, made once with debootstrap."""
    recipe = f"{DEBIAN_SUITE} {' '.join(BASE_PACKAGES)}".encode()
    name = f"localhost/countersign-test-base:{hashlib.sha256(recipe).hexdigest()[:12]}"
    if _image_exists(buildah, name):
        return name
    debootstrap = debian_tool("debootstrap", "debootstrap")
    with tempfile.TemporaryDirectory(prefix="countersign-base-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        _run(
            [
                debootstrap, "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR,
            ],
            timeout=BUILD_TIMEOUT,
        )  # fmt: skip
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        container = _run([buildah, "from", "scratch"]).strip()
        try:
            mount = _run([buildah, "mount", container]).strip()
            _run(["cp", "-a", f"{rootfs}/.", mount], timeout=BUILD_TIMEOUT)
            _run([buildah, "umount", container])
            path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            _run([buildah, "config", "--env", path, container])
            _run([buildah, "commit", "--quiet", container, name], timeout=BUILD_TIMEOUT)
        finally:
            subprocess.run([buildah, "rm", container], capture_output=True, check=False)
    return name


def _trust_store() -> str | None:
    """The build host's CA bundle, which pip inside the build uses to reach PyPI (a host
    behind a TLS-inspecting proxy trusts it there; the image never keeps it)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def build(buildah: str, base: str) -> str:
    """`buildah bud` of the repository's Dockerfile on `base`; the image's name."""
    argv = [
        buildah, "bud", "--isolation", "chroot", "--format", "docker", "--layers",
        "--build-arg", f"PYTHON_IMAGE={base}", "--tag", TAG,
    ]  # fmt: skip
    store = _trust_store()
    if store is not None:
        argv += ["--volume", f"{store}:/etc/ssl/certs/ca-certificates.crt:ro"]
    _run([*argv, str(ROOT)], timeout=BUILD_TIMEOUT)
    return TAG


def docker_config(buildah: str, image: str) -> dict[str, Any]:
    """The image's Docker-format config (User, Env, Healthcheck, Entrypoint, Cmd, ...)."""
    inspected = json.loads(_run([buildah, "inspect", "--type", "image", image]))
    config: dict[str, Any] = inspected["Docker"]["config"]
    return config


@dataclass(frozen=True, slots=True)
class Image:
    """A built image and the programs that handle it."""

    name: str
    buildah: str
    podman: str

    def run(self, *args: str, timeout: float = 120) -> str:
        """`podman run --rm` of this image with `args` (options, then the image's arguments)."""
        return _run([self.podman, *PODMAN_RUN, "--rm", *args], timeout=timeout)

    def start(self, name: str, *options: str) -> None:
        """Start a detached container named `name`."""
        _run([self.podman, *PODMAN_RUN, "--detach", "--name", name, *options, self.name])

    def exec(self, name: str, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run `argv` in a running container; its exit status and what it printed."""
        options = [f"--env={key}={value}" for key, value in (env or {}).items()]
        result = subprocess.run(
            [self.podman, "exec", *options, name, *argv],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return result.returncode, (result.stdout + result.stderr).decode(errors="replace")

    def logs(self, name: str) -> str:
        """What the container printed."""
        result = subprocess.run(
            [self.podman, "logs", name], capture_output=True, timeout=60, check=False
        )
        return (result.stdout + result.stderr).decode(errors="replace")

    def remove(self, name: str) -> None:
        """Stop and remove a container (it may be gone already)."""
        subprocess.run(
            [self.podman, "rm", "--force", "--time", "10", name],
            capture_output=True,
            timeout=60,
            check=False,
        )

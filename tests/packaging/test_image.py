"""The image the Dockerfile builds (buildah), run as a real container (podman): a non-root
user, a HEALTHCHECK that tells up from down, no dev tools, and `countersign serve` answering
/healthz and /readyz on a read-only root filesystem (a tmpfs on /tmp only).

Slow (a real build: a few minutes the first time on a machine, about one after that); see
image.py for how the base image is made without a container registry.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.packaging.image import (
    PODMAN_RUN,
    Image,
    base_image,
    build,
    docker_config,
    require_root,
    skip_if_the_kernel_refuses,
)
from tests.packaging.tools import debian_tool
from tests.support.countersign import write_session_key
from tests.support.ports import LOOPBACK, free_port
from tests.support.redis_server import RedisServerFactory

pytestmark = [pytest.mark.image, pytest.mark.redis]

POLICIES = Path(__file__).resolve().parents[1] / "e2e" / "policies"
USER = "10001:10001"
READY_TIMEOUT = 90.0
#: Must not be in the image: test runners, linters, type checkers, package installers.
DEV_MODULES = ("pytest", "hypothesis", "ruff", "mypy", "pip", "setuptools", "playwright")
DEV_PROGRAMS = ("pip", "pip3", "gcc", "cc", "make", "curl", "wget", "git", "pytest", "ruff")
_PROBE = """
import importlib.util, json, shutil, sys
print(json.dumps({
    "modules": [m for m in sys.argv[1].split(",") if importlib.util.find_spec(m)],
    "programs": [p for p in sys.argv[2].split(",") if shutil.which(p)],
    "countersign": shutil.which("countersign"),
}))
"""


@dataclass(frozen=True, slots=True)
class Built:
    """The image and its Docker-format config."""

    image: Image
    config: dict[str, Any]


@pytest.fixture(scope="module")
def built() -> Built:
    """The Dockerfile built with buildah (skipped, with the kernel's words, where the kernel
    refuses the namespaces a build needs)."""
    require_root()
    buildah = debian_tool("buildah", "buildah")
    podman = debian_tool("podman", "podman")
    debian_tool("runc", "runc")
    skip_if_the_kernel_refuses(
        ["unshare", "--mount", "--pid", "--fork", "true"], "the namespaces a build needs"
    )
    name = build(buildah, base_image(buildah))
    return Built(Image(name, buildah, podman), docker_config(buildah, name))


@pytest.fixture(scope="module")
def image(built: Built) -> Image:
    """The built image, once podman has shown it can run a container of it here."""
    skip_if_the_kernel_refuses(
        [built.image.podman, *PODMAN_RUN, "--rm", "--entrypoint", "true", built.image.name],
        "to run a container",
    )
    return built.image


def test_the_image_runs_countersign_serve_as_a_non_root_user(built: Built) -> None:
    """User 10001, `countersign serve` on 0.0.0.0:8080 (port exposed), policies at a mount."""
    config = built.config
    assert config["User"] == USER
    assert config["Entrypoint"] == ["countersign"]
    assert config["Cmd"] == ["serve"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["COUNTERSIGN_HOST"] == "0.0.0.0"  # noqa: S104  (what the image must do)
    assert f"{env['COUNTERSIGN_PORT']}/tcp" in config["ExposedPorts"]
    assert env["COUNTERSIGN_POLICY_DIR"] == "/etc/countersign/policies"


def test_the_image_keeps_its_healthcheck(built: Built) -> None:
    """The Docker-format image carries the HEALTHCHECK (an OCI image would drop it)."""
    test = built.config["Healthcheck"]["Test"]
    assert test[0] == "CMD"
    assert test[1:3] == ["python3", "-c"]


def test_no_dev_tools_in_the_image(image: Image) -> None:
    """No test runner, linter, package installer, compiler or curl: only Countersign and what
    it runs on."""
    output = image.run(
        "--entrypoint", "python3", image.name, "-c", _PROBE,
        ",".join(DEV_MODULES), ",".join(DEV_PROGRAMS),
    )  # fmt: skip
    found = json.loads(output.strip().splitlines()[-1])
    assert found == {
        "modules": [],
        "programs": [],
        "countersign": "/opt/countersign/bin/countersign",
    }


@pytest.fixture
def running(
    image: Image, redis_server_factory: RedisServerFactory, tmp_path: Path
) -> Iterator[tuple[Image, str, int]]:
    """Countersign from the image in production mode (issuer with a key file, session key,
    external Redis), root filesystem read-only; podman mounts a tmpfs on /tmp (as the
    Kubernetes example mounts an emptyDir), where DATA_DIR keeps its lock file."""
    redis = redis_server_factory(appendonly=True)
    secrets = tmp_path / "secrets"
    write_session_key(secrets)
    issuer_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    (secrets / "issuer.pem").write_bytes(
        issuer_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    for path in (tmp_path, secrets, *secrets.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's user
    port = free_port()
    name = f"countersign-test-{uuid.uuid4().hex[:8]}"
    env = {
        "COUNTERSIGN_PORT": str(port),
        "COUNTERSIGN_PUBLIC_URL": f"http://{LOOPBACK}:{port}",
        "COUNTERSIGN_REDIS_URL": redis.url,
        "COUNTERSIGN_ISSUER": "https://login.example.com/",
        "COUNTERSIGN_AUDIENCE": "countersign",
        "COUNTERSIGN_JWT_KEY_FILE": "/run/secrets/countersign/issuer.pem",
        "COUNTERSIGN_SESSION_KEY_FILE": "/run/secrets/countersign/session-key.pem",
        "COUNTERSIGN_REDIS_TIMEOUT": "2s",
    }
    image.start(
        name,
        "--read-only",
        "--volume", f"{POLICIES}:/etc/countersign/policies:ro",
        "--volume", f"{secrets}:/run/secrets/countersign:ro",
        *(f"--env={key}={value}" for key, value in env.items()),
    )  # fmt: skip
    try:
        yield image, name, port
    finally:
        image.remove(name)


def _wait_ready(image: Image, name: str, port: int) -> httpx.Response:
    deadline = time.monotonic() + READY_TIMEOUT
    last: str = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://{LOOPBACK}:{port}/readyz", timeout=2)
        except httpx.HTTPError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text}"
        time.sleep(0.2)
    pytest.fail(f"not ready in {READY_TIMEOUT}s ({last}); container log:\n{image.logs(name)}")


def test_the_container_serves_on_a_read_only_root(running: tuple[Image, str, int]) -> None:
    """It becomes ready (policy loaded, Redis reachable) and answers /healthz while its root
    filesystem is read-only, and its process runs as the image's user."""
    image, name, port = running
    ready = _wait_ready(image, name, port)
    assert ready.json()["ready"] is True
    assert httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=5).status_code == 200
    status, output = image.exec(name, "id", "-u")
    assert (status, output.strip()) == (0, USER.split(":", maxsplit=1)[0])
    status, output = image.exec(name, "touch", "/opt/countersign/written")
    assert status != 0
    assert "Read-only file system" in output


def test_the_healthcheck_tells_up_from_down(running: tuple[Image, str, int], built: Built) -> None:
    """The image's own HEALTHCHECK command succeeds against the running service and fails when
    pointed at a port nobody listens on."""
    image, name, port = running
    _wait_ready(image, name, port)
    command = built.config["Healthcheck"]["Test"][1:]
    assert image.exec(name, *command)[0] == 0
    assert image.exec(name, *command, env={"COUNTERSIGN_PORT": str(free_port())})[0] != 0

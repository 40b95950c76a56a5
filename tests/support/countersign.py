"""Run the real Countersign service for end-to-end tests, and mint dev tokens for personas.

The service runs as `countersign serve` in dev mode against a private Redis and a policy
directory of the test's choosing, exactly as an operator would start it. Tokens come from
`countersign token mint`, signed with the dev key the service wrote into its data directory.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import components
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess

START_TIMEOUT = 30.0
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\b")


class MintError(RuntimeError):
    """`countersign token mint` failed or printed no token."""


@dataclass
class RunningCountersign:
    """A running service and what a test needs to talk about it."""

    process: ManagedProcess
    port: int
    public_url: str
    data_dir: Path
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        """Where the service itself listens (proxies call this)."""
        return f"http://{LOOPBACK}:{self.port}"

    def mint(self, *, email: str, groups: Sequence[str] = ()) -> str:
        """A dev token for `email` in `groups`, from `countersign token mint`."""
        argv = [components.countersign(), "token", "mint", "--email", email]
        for group in groups:
            argv += ["--group", group]
        argv += ["--data-dir", str(self.data_dir)]
        result = subprocess.run(
            argv, capture_output=True, text=True, env=self.env, timeout=30, check=False
        )
        found = _JWT.findall(result.stdout)
        if result.returncode != 0 or not found:
            raise MintError(
                f"{' '.join(argv)} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return str(found[-1])

    def stop(self) -> None:
        """Stop the service."""
        self.process.stop()


def service_env(
    *, redis_url: str, policy_dir: Path, data_dir: Path, public_url: str
) -> dict[str, str]:
    """The environment of the service: the caller's, minus any COUNTERSIGN_* it had, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")}
    env.update(
        COUNTERSIGN_DEV="1",
        COUNTERSIGN_REDIS_URL=redis_url,
        COUNTERSIGN_POLICY_DIR=str(policy_dir),
        COUNTERSIGN_DATA_DIR=str(data_dir),
        COUNTERSIGN_PUBLIC_URL=public_url,
        COUNTERSIGN_POLICY_RELOAD="false",
        COUNTERSIGN_LOG_FORMAT="json",
        # A loaded 2-core test machine can take longer than the 250 ms default.
        COUNTERSIGN_REDIS_TIMEOUT="2s",
    )
    return env


def start_countersign(
    directory: Path,
    *,
    redis_url: str,
    policy_dir: Path,
    public_url: str,
    port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> RunningCountersign:
    """Start `countersign serve --host 127.0.0.1 --port P` and wait until /healthz answers 200.

    `extra_env` adds settings (e.g. COUNTERSIGN_DEVICE_INVENTORY) to the service's environment.
    In dev mode the service keeps its signing keys under its own data directory: mint tokens
    from this instance (`RunningCountersign.mint`).
    """
    binary = components.countersign()
    port = port or free_port()
    data_dir = directory / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(
        redis_url=redis_url, policy_dir=policy_dir, data_dir=data_dir, public_url=public_url
    )
    env.update(extra_env or {})
    argv = [binary, "serve", "--host", LOOPBACK, "--port", str(port)]
    process = ManagedProcess(
        "countersign", argv, log_path=directory / "countersign.log", env=env, cwd=directory
    )
    process.wait_for_http(
        port, "/healthz", ready=lambda status: status == 200, timeout=START_TIMEOUT
    )
    return RunningCountersign(process, port, public_url, data_dir, env)


@dataclass(frozen=True, slots=True)
class ManagedDevice:
    """A self-signed client certificate and the inventory file that lists it as managed."""

    pem: str
    fingerprint: str
    inventory: Path

    @property
    def escaped_pem(self) -> str:
        """The certificate as nginx's `$ssl_client_escaped_cert` spells it."""
        return quote(self.pem, safe="")

    @property
    def pem_body(self) -> str:
        """The certificate as Traefik's passTLSClientCert spells it: base64 DER on one line."""
        return "".join(line for line in self.pem.splitlines() if not line.startswith("-----"))


def write_device_inventory(directory: Path) -> ManagedDevice:
    """Make a certificate for `managed-laptop` and an inventory listing its SHA-256 as managed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "managed-laptop")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    directory.mkdir(parents=True, exist_ok=True)
    inventory = directory / "devices.yaml"
    inventory.write_text(
        f'devices:\n  "{fingerprint}": {{id: managed-laptop, managed: true, tags: [e2e]}}\n'
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return ManagedDevice(pem=pem, fingerprint=fingerprint, inventory=inventory)


def write_session_key(directory: Path) -> Path:
    """A fresh EC P-256 private key (PKCS#8 PEM) for COUNTERSIGN_SESSION_KEY_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "session-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path

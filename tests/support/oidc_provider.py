"""A real OpenID provider on loopback for sign-in tests: `oidc-provider-mock` (a third-party
provider built on Authlib's server), run as its own process with its command-line entry point.

Its issuer follows the Host header, so everything talks to it as http://127.0.0.1:PORT. Users
and their claims are set with `PUT /users/<sub>`; a sign-in is a POST of `sub=<sub>` to the
authorization endpoint, whose 302 carries the code. It signs RS256 ID tokens with a key made at
each start and puts no `kid` in them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess

START_TIMEOUT = 30.0
DISCOVERY = "/.well-known/openid-configuration"


@dataclass
class OidcProvider:
    """A running provider and the calls a test makes to it directly."""

    process: ManagedProcess
    port: int

    @property
    def issuer(self) -> str:
        """Its issuer (and base URL)."""
        return f"http://{LOOPBACK}:{self.port}"

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """Create or replace a user with these claims."""
        response = httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def authorize(self, location: str, sub: str) -> httpx.Response:
        """Sign in as `sub` at the authorization URL Countersign redirected to (the provider's
        form post), returning the provider's redirect back to the callback."""
        return httpx.post(location, data={"sub": sub}, timeout=5, follow_redirects=False)

    def stop(self) -> None:
        """Stop the provider (its port then refuses connections)."""
        self.process.stop()


def start_oidc_provider(directory: Path, *, port: int | None = None) -> OidcProvider:
    """Start `python -m oidc_provider_mock` on 127.0.0.1 and wait until discovery answers."""
    port = port or free_port()
    argv = [sys.executable, "-m", "oidc_provider_mock", "--host", LOOPBACK, "--port", str(port)]
    process = ManagedProcess(
        "oidc-provider", argv, log_path=directory / "oidc-provider.log", cwd=directory
    )
    process.wait_for_http(
        port, DISCOVERY, ready=lambda status: status == 200, timeout=START_TIMEOUT
    )
    return OidcProvider(process, port)

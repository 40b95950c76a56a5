"""Verify Countersign's X-Countersign-Assertion in a Python application (python-jose).

    pip install "python-jose[cryptography]"

Every request Countersign allows reaches the application with `X-Countersign-Assertion`: a JWT
signed by Countersign (ES256, keys at PUBLIC_URL/.well-known/jwks.json) for this application
only (`aud` = its application id in the policy), valid for COUNTERSIGN_ASSERTION_TTL (5 m).
Checking it, instead of trusting plain X-Auth-Request-* headers, keeps the application safe
from anyone who reaches it without going through the proxy, and a token taken from another
application fails the `aud` check here.

    verifier = AssertionVerifier("https://auth.example.com", "grafana")
    claims = verifier.verify(request.headers["X-Countersign-Assertion"])
    person = (claims["idp"], claims["sub"])  # the stable identity; email and groups may change

As a command (exit status 0 when valid, the claims on stdout):

    python verify_assertion.py https://auth.example.com grafana < token.txt
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from typing import Any

from jose import jwt
from jose.exceptions import JWTError

#: The only algorithm Countersign signs with; never take it from the token.
ALGORITHMS = ["ES256"]
#: How long fetched keys are used before fetching again, and the least time between two
#: fetches caused by an unknown `kid` (a key rotation), so bad tokens cannot force fetches.
KEYS_TTL = 300.0
REFETCH_INTERVAL = 30.0


class AssertionVerifier:
    """Checks X-Countersign-Assertion for one application: signature, iss, aud, exp."""

    def __init__(
        self,
        public_url: str,
        application: str,
        *,
        jwks_url: str | None = None,
        leeway: float = 30.0,
    ) -> None:
        self.issuer = public_url.rstrip("/")
        self.application = application
        #: Defaults to the public JWKS; point it at Countersign's private address if you like.
        self.jwks_url = jwks_url or self.issuer + "/.well-known/jwks.json"
        self.leeway = leeway
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def verify(self, token: str | None) -> dict[str, Any]:
        """The claims of a valid assertion; raises JWTError for a missing or invalid one."""
        if not token:
            raise JWTError("no X-Countersign-Assertion: the request did not come through the proxy")
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._key(kid)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=self.application,
            issuer=self.issuer,
            options={
                "leeway": self.leeway,
                "require_aud": True,
                "require_iss": True,
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
            },
        )
        return claims

    def _key(self, kid: object) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at > KEYS_TTL
            unknown = kid not in self._keys and now - self._fetched_at > REFETCH_INTERVAL
            if stale or unknown:
                self._keys = {k["kid"]: k for k in self._fetch()["keys"] if "kid" in k}
                self._fetched_at = now
            key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise JWTError(f"no key {kid!r} in {self.jwks_url}")
        return key

    def _fetch(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.jwks_url, timeout=5) as response:  # noqa: S310  (the operator's URL)
            document: dict[str, Any] = json.load(response)
        return document


def main(argv: list[str] | None = None) -> int:
    """Read a token on stdin; print its claims and exit 0 if it is valid for the application."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("public_url", help="COUNTERSIGN_PUBLIC_URL (the assertion's iss)")
    parser.add_argument("application", help="the application id (the assertion's aud)")
    parser.add_argument("--jwks-url", help="default: PUBLIC_URL/.well-known/jwks.json")
    args = parser.parse_args(argv)
    verifier = AssertionVerifier(args.public_url, args.application, jwks_url=args.jwks_url)
    try:
        claims = verifier.verify(sys.stdin.read().strip())
    except JWTError as error:
        sys.stderr.write(f"invalid: {error}\n")
        return 1
    sys.stdout.write(json.dumps(claims, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Traefik `forwardAuth` and Caddy `forward_auth`: the original in X-Forwarded-*.

Neither can rewrite the Cookie header itself: an allow carries the Cookie the application
should get (Countersign's session cookie removed), copied upstream by `authResponseHeaders` /
`copy_headers`.
"""

from __future__ import annotations

from typing import ClassVar

from app.adapters.forward_auth.answers import Headers
from app.adapters.forward_auth.flavours.base import HttpFlavour, Scope, Target


class Traefik(HttpFlavour):
    name: ClassVar[str] = "traefik"
    carries_upstream_cookie: ClassVar[bool] = True

    def target(self, scope: Scope, headers: Headers) -> Target:
        return (
            headers.get("x-forwarded-method"),
            headers.get("x-forwarded-proto"),
            headers.get("x-forwarded-host"),
            headers.get("x-forwarded-uri"),
        )

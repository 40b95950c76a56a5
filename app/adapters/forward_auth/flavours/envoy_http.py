"""Envoy `ext_authz` over HTTP: the original method, `path_prefix` + path and query, and Host.

The path is read raw (`raw_path`), so what Countersign judges is byte for byte what Envoy
routed; any answer other than 200 goes to the client as it is (status, Location, body).
"""

from __future__ import annotations

from typing import ClassVar

from app.adapters.forward_auth.answers import Headers
from app.adapters.forward_auth.flavours.base import HttpFlavour, Scope, Target
from app.adapters.forward_auth.original import BadProxyRequestError


class EnvoyHttp(HttpFlavour):
    name: ClassVar[str] = "envoy"
    prefix: ClassVar[bytes] = b"/auth/envoy"

    def target(self, scope: Scope, headers: Headers) -> Target:
        raw = scope.get("raw_path")
        if not isinstance(raw, bytes) or not raw.startswith(self.prefix):
            raise BadProxyRequestError("ext_authz path does not carry the prefix")
        try:
            uri = raw[len(self.prefix) :].decode("ascii") or "/"
        except UnicodeDecodeError:
            raise BadProxyRequestError("the path holds raw non-ASCII bytes") from None
        query = scope.get("query_string")
        if isinstance(query, bytes) and query:
            try:
                uri = f"{uri}?{query.decode('ascii')}"
            except UnicodeDecodeError:
                raise BadProxyRequestError("the query holds raw non-ASCII bytes") from None
        method = scope.get("method")
        return (
            method if isinstance(method, str) else None,
            headers.get("x-forwarded-proto", "http"),
            headers.get("host"),
            uri,
        )

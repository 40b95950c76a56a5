"""Envoy `ext_authz` over gRPC (`envoy.service.auth.v3.Authorization/Check`), as Istio's
`envoyExtAuthzGrpc` provider also calls it: what Envoy's CheckRequest says becomes the neutral
CheckRequest, and the check's Answer becomes what a CheckResponse says.

Only typed values here (EnvoyCheck, EnvoyVerdict); grpc/messages.py is the one module that
reads and writes the protobuf messages themselves. Envoy's answer style is the default one:
redirects are 302/303 with Location, a refusal page is the body of the denied response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote

from app.adapters.forward_auth.answers import Answer
from app.adapters.forward_auth.assertion import ASSERTION_HEADER
from app.adapters.forward_auth.check import SINGLE, CheckRequest, collect_headers, request_id
from app.adapters.forward_auth.flavours.base import Flavour
from app.adapters.forward_auth.identity_headers import EMAIL, GROUPS, USER
from app.adapters.forward_auth.original import BadProxyRequestError

#: google.rpc.Code values a CheckResponse carries: OK allows, anything else denies.
GRPC_OK = 0
GRPC_PERMISSION_DENIED = 7
GRPC_UNAUTHENTICATED = 16

#: Every identity header Countersign sets on an allow. An allow sets some of them and asks Envoy
#: to remove the others, so a client-sent copy never reaches the application.
OWNED_HEADERS: tuple[str, ...] = tuple(
    name.decode("ascii") for name in (USER, EMAIL, GROUPS, ASSERTION_HEADER)
)
#: Envoy's `headers` map joins a repeated header's values with ",": in these, which say where
#: the request goes, a comma can only be a repetition, and a repeated one is ambiguous (400).
#: Not in X-Forwarded-For (a list either way) or Authorization (a joined value is no valid
#: credential, so the caller is simply not signed in); Host arrives as :authority.
_JOINED_IS_AMBIGUOUS = SINGLE - {"host", "authorization", "x-forwarded-for"}


class EnvoyGrpc(Flavour):
    name: ClassVar[str] = "envoy-grpc"


ENVOY_GRPC = EnvoyGrpc()


@dataclass(frozen=True, slots=True)
class EnvoyCheck:
    """What one CheckRequest says about the original request (`attributes.request.http`)."""

    method: str
    #: The scheme of Envoy's downstream connection (:scheme); may be empty.
    scheme: str
    #: :authority, with any port.
    host: str
    #: The path and the query, as Envoy routed them.
    path: str
    #: Header lines as Envoy sent them, pseudo-headers (`:path`, ...) included.
    headers: tuple[tuple[str, str], ...]
    #: True for `header_map` (`encode_raw_headers: true`, one entry per header line, so a
    #: repeated header is seen as such), False for the `headers` map (repeats joined with ",").
    raw: bool


@dataclass(frozen=True, slots=True)
class EnvoyVerdict:
    """What one CheckResponse says."""

    #: google.rpc.Code: GRPC_OK allows, anything else denies.
    code: int
    #: The HTTP status a denied client gets (200 on an allow).
    status: int
    #: Allow: set on the request to the application (overwriting any copy). Deny: the headers
    #: of the answer the client gets.
    headers: tuple[tuple[str, str], ...]
    #: Allow: removed from the request to the application.
    remove: tuple[str, ...] = ()
    #: Deny: the body the client gets.
    body: str = ""

    @property
    def allowed(self) -> bool:
        """Whether Envoy lets the request through."""
        return self.code == GRPC_OK


def peer_address(peer: str) -> str:
    """The bare address in gRPC's peer string (`ipv4:127.0.0.1:5000`, `ipv6:%5B::1%5D:5000`),
    judged like an HTTP peer; "" (never trusted) for anything else, a Unix socket included."""
    kind, _, rest = unquote(peer).partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    return ""


def check_request(check: EnvoyCheck, *, peer: str) -> CheckRequest:
    """The neutral check for one CheckRequest; BadProxyRequestError when it is ambiguous.

    Pseudo-headers never count as ordinary headers: the original request is in the check's own
    fields (method, scheme, host, path), as Envoy routed it. The scheme is Envoy's own view of
    the connection, X-Forwarded-Proto only when Envoy left it empty.
    """
    lines = [(name, value) for name, value in check.headers if not name.startswith(":")]
    headers = collect_headers(lines, count=len(lines))
    if not check.raw:
        for name in _JOINED_IS_AMBIGUOUS:
            if "," in headers.get(name, ""):
                raise BadProxyRequestError(f"header {name} is repeated")
    target = (
        check.method or None,
        check.scheme or headers.get("x-forwarded-proto") or None,
        check.host or None,
        check.path or None,
    )
    return CheckRequest(peer, headers, target, request_id(headers))


def verdict_for(answer: Answer) -> EnvoyVerdict:
    """The CheckResponse for one answer: only a 200 allows; a 401 is UNAUTHENTICATED and every
    other status PERMISSION_DENIED, with the answer's status, headers and body for the client."""
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in answer.headers
    )
    if answer.status == 200:
        identity = tuple((name, value) for name, value in headers if name in OWNED_HEADERS)
        given = {name for name, _ in identity}
        absent = tuple(name for name in OWNED_HEADERS if name not in given)
        return EnvoyVerdict(GRPC_OK, 200, identity, remove=absent)
    code = GRPC_UNAUTHENTICATED if answer.status == 401 else GRPC_PERMISSION_DENIED
    # Envoy sets Content-Length for the body itself.
    client = tuple((name, value) for name, value in headers if name != "content-length")
    return EnvoyVerdict(code, answer.status, client, body=answer.body.decode("utf-8", "replace"))

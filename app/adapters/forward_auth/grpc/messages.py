"""Envoy's ext_authz messages on the wire: the one module that touches the generated protobuf
classes (xds-protos, untyped). CheckRequest bytes become an EnvoyCheck; an EnvoyVerdict becomes
CheckResponse bytes. Nothing else in Countersign sees a protobuf object.
"""

from __future__ import annotations

from envoy.config.core.v3.base_pb2 import HeaderValueOption
from envoy.service.auth.v3.external_auth_pb2 import CheckRequest, CheckResponse
from google.protobuf.message import DecodeError

from app.adapters.forward_auth.flavours.envoy_grpc import EnvoyCheck, EnvoyVerdict

#: The service and method Envoy calls.
SERVICE = "envoy.service.auth.v3.Authorization"
METHOD = "Check"
#: Replace any copy of the header (the client's included) with ours.
_OVERWRITE = HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD


class MalformedCheckError(ValueError):
    """The bytes are no CheckRequest Countersign can read: a 400, never a decision."""


def read_check(data: bytes) -> EnvoyCheck:
    """What one serialised CheckRequest says about the original request."""
    try:
        message = CheckRequest.FromString(data)
    except DecodeError:
        raise MalformedCheckError("the CheckRequest cannot be parsed") from None
    http = message.attributes.request.http
    if http.HasField("header_map"):
        if http.headers:
            raise MalformedCheckError("the CheckRequest has both headers and header_map")
        lines = tuple(
            (str(header.key), _value(header.raw_value, header.value))
            for header in http.header_map.headers
        )
        raw = True
    else:
        lines = tuple((str(name), str(value)) for name, value in http.headers.items())
        raw = False
    return EnvoyCheck(
        method=str(http.method),
        scheme=str(http.scheme),
        host=str(http.host),
        path=str(http.path),
        headers=lines,
        raw=raw,
    )


def _value(raw: bytes, text: str) -> str:
    """A header_map value: its raw bytes read as ASGI reads header bytes (latin-1)."""
    return bytes(raw).decode("latin-1") if raw else str(text)


def write_verdict(verdict: EnvoyVerdict) -> bytes:
    """The serialised CheckResponse for one verdict."""
    response = CheckResponse()
    response.status.code = verdict.code
    if verdict.allowed:
        ok = response.ok_response
        ok.SetInParent()
        ok.headers.extend(_header(name, value) for name, value in verdict.headers)
        ok.headers_to_remove.extend(verdict.remove)
    else:
        denied = response.denied_response
        denied.status.code = verdict.status
        denied.headers.extend(_header(name, value) for name, value in verdict.headers)
        denied.body = verdict.body
    data: bytes = response.SerializeToString()
    return data


def _header(name: str, value: str) -> HeaderValueOption:
    option = HeaderValueOption(append_action=_OVERWRITE)
    option.header.key = name
    option.header.value = value
    return option

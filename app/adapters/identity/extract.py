"""Where a request's token comes from: `Authorization: Bearer`, the session cookie, or a
header set by an upstream identity proxy — in that order. Nothing here logs a token."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.adapters.identity.errors import IdentityError, TokenProblem

#: Header names whose repeated values are joined the way HTTP defines for them.
_COOKIE = "cookie"


def headers_from_asgi(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """A lower-case-keyed dict from ASGI header pairs. Repeated `cookie` headers (HTTP/2 splits
    them) are joined with "; ", other repeats with ", " as RFC 9110 says."""
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = value_bytes.decode("latin-1")
        if name in headers:
            joiner = "; " if name == _COOKIE else ", "
            headers[name] = f"{headers[name]}{joiner}{value}"
        else:
            headers[name] = value
    return headers


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie `name` in a Cookie header, in order. Tolerates stray spaces,
    empty pairs and pairs without '='; never raises. Quotes around a value are removed."""
    values: list[str] = []
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values.append(value)
    return values


def extract_token(
    headers: Mapping[str, str],
    *,
    cookie_name: str,
    assertion_header: str | None = None,
    max_bytes: int = 16384,
) -> str | None:
    """The caller's token, or None when it sent none. Raises IdentityError when it sent one we
    must refuse: a malformed `Bearer`, conflicting cookies, or more than `max_bytes`.

    `headers` has lower-case names (see `headers_from_asgi`); a Starlette `Headers` works too.
    """
    authorization = headers.get("authorization")
    if authorization is not None:
        token = _bearer(authorization)
        if token is not None:
            return _bounded(token, max_bytes)
    cookie_header = headers.get(_COOKIE)
    if cookie_header:
        # Bounding the header first keeps a megabyte of cookies from costing a full scan.
        if len(cookie_header) > 8 * max_bytes:
            raise IdentityError(TokenProblem.TOO_LARGE)
        values = {v for v in cookie_values(cookie_header, cookie_name) if v}
        if len(values) > 1:
            # Two different sessions: a cookie planted from a sibling domain must not win.
            raise IdentityError(TokenProblem.AMBIGUOUS)
        if values:
            return _bounded(values.pop(), max_bytes)
    if assertion_header:
        assertion = headers.get(assertion_header.lower())
        if assertion is not None and assertion.strip():
            token = assertion.strip()
            if " " in token or "," in token:
                raise IdentityError(TokenProblem.MALFORMED)
            return _bounded(token, max_bytes)
    return None


def _bearer(value: str) -> str | None:
    """The token of a `Bearer` credential; None for another scheme (Basic belongs to the app)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    parts = rest.split()
    if len(parts) != 1 or "," in parts[0]:
        raise IdentityError(TokenProblem.MALFORMED)
    return parts[0]


def _bounded(token: str, max_bytes: int) -> str:
    if len(token) > max_bytes:
        raise IdentityError(TokenProblem.TOO_LARGE)
    return token

"""X-Auth-Request-User/-Email/-Groups: an identity passed to the application exactly, never altered.

A value that is printable ASCII without `%` or `,` (and without a space at either end, which
HTTP parsers strip) is sent as is. Any other value is percent-encoded from its UTF-8 bytes:
every byte outside `!`..`~`, and every `%` and `,`, becomes `%XX`. An encoded value therefore
always holds a `%` and a plain one never does, so `bob%C3%A9` can never be another user's plain
name. Groups are encoded one by one, then joined with `,`: a comma inside a group cannot split it.
"""

from __future__ import annotations

import functools
from urllib.parse import quote, unquote

#: Characters `quote` leaves alone when a value has to be encoded.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%,")
#: Distinct (user, email, groups) kept encoded; identities come from the token cache and repeat.
CACHE_SIZE = 4096

USER = b"x-auth-request-user"
EMAIL = b"x-auth-request-email"
GROUPS = b"x-auth-request-groups"


def is_plain(value: str) -> bool:
    """Printable ASCII without `%`, `,` or a space at either end: sent as is."""
    # C-level string methods: about three times cheaper than one regular expression here.
    return (
        value.isascii()
        and value.isprintable()
        and "%" not in value
        and "," not in value
        and value.strip(" ") == value
    )


def encode_value(value: str) -> str:
    """`value` as is when it is plain, else percent-encoded (see the module docstring)."""
    if is_plain(value):
        return value
    # surrogatepass: a token may carry a lone surrogate; send it rather than fail the request.
    return quote(value.encode("utf-8", "surrogatepass"), safe=_SAFE)


def decode_value(value: str) -> str:
    """The original of an encoded value (what an application does to read one)."""
    return unquote(value, errors="surrogatepass") if "%" in value else value


def encode_groups(groups: frozenset[str]) -> str:
    """Each group encoded, sorted, joined with `,`. The empty string is not a group."""
    return ",".join(sorted(encode_value(group) for group in groups if group))


def decode_groups(value: str) -> frozenset[str]:
    """The groups of an X-Auth-Request-Groups value."""
    return frozenset(decode_value(part) for part in value.split(",") if part)


@functools.lru_cache(maxsize=CACHE_SIZE)
def encoded_identity(
    user: str, email: str, groups: frozenset[str]
) -> tuple[tuple[bytes, bytes], ...]:
    """The three identity headers of an allow answer (ASCII by construction)."""
    return (
        (USER, encode_value(user).encode("ascii")),
        (EMAIL, encode_value(email).encode("ascii")),
        (GROUPS, encode_groups(groups).encode("ascii")),
    )

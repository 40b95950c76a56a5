"""The value parsers every setting uses: raw value (a string from the environment, anything
from YAML) in, typed value out, or `BadValueError` with a message that fits after `NAME: `.

One set for the environment, the config file and its `issuers:`, `service_tokens:` and
`notifications:` sections, so a boolean, a list or a URL is spelt the same way everywhere.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from pydantic import SecretStr

from app.config.errors import BadValueError
from app.core.durations import DurationError, parse_duration

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The documented spellings of a boolean (any letter case), besides YAML's own true/false.
TRUE_WORDS = ("true", "1")
FALSE_WORDS = ("false", "0")
SECRET_FILE_LIMIT = 64 * 1024
#: What a service token or a notification channel may be called.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOKEN_CHARS = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_DOMAIN = re.compile(r"^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_MILLISECONDS = re.compile(r"^([1-9][0-9]{0,6})ms$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"()\[\]]+@[^@\s<>,;\"()\[\]]+\.[^@\s<>,;\"()\[\]]+$")
_HTTPS_ONLY = "must use https (http is allowed only for localhost and loopback addresses)"


def shown(raw: object) -> str:
    """A value quoted for a message, cut to 60 characters."""
    text = str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def suggest(name: str, options: Collection[str], *, cutoff: float = 0.75) -> str:
    """`; did you mean X?` for a near miss among `options`, else nothing."""
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]}?" if close else ""


def text(raw: object) -> str:
    """Non-empty text; a YAML number counts as its digits, a YAML boolean or list does not."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise BadValueError(f"expected text, got {type(raw).__name__}")
    value = str(raw).strip()
    if not value:
        raise BadValueError("must not be empty")
    return value


def integer(low: int, high: int) -> Callable[[object], int]:
    """A whole number from `low` to `high`, as a YAML number or as decimal text."""

    def parse(raw: object) -> int:
        if isinstance(raw, bool):
            raise BadValueError(f"must be a whole number from {low} to {high}")
        try:
            value = raw if isinstance(raw, int) else int(text(raw), 10)
        except ValueError:
            raise BadValueError(
                f"must be a whole number from {low} to {high}, got {shown(raw)}"
            ) from None
        if not low <= value <= high:
            raise BadValueError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def boolean(raw: object) -> bool:
    """true/false or 1/0, in any letter case, or a YAML boolean. Nothing else: a `yes`, `on` or
    `enabled` that one reader took for true and another refused would be worse than an error."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | str):
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise BadValueError(f"must be true or false (or 1 or 0), got {shown(raw)}")


def duration(*, allow_zero: bool = False) -> Callable[[object], timedelta]:
    """`90s`, `15m`, `4h`, `7d` or milliseconds (`250ms`); `0`/`0s` only where allowed."""

    def parse(raw: object) -> timedelta:
        if not isinstance(raw, str):
            raise BadValueError(
                f"must be a duration such as '30s', '10m' or '250ms', got {shown(raw)}"
            )
        value = raw.strip()
        if allow_zero and value in ("0", "0s"):
            return timedelta(0)
        if match := _MILLISECONDS.match(value):
            return timedelta(milliseconds=int(match.group(1)))
        try:
            return parse_duration(value)
        except DurationError as error:
            raise BadValueError(f"{error} (or milliseconds such as '250ms')") from None

    return parse


def bounded_duration(low: timedelta, high: timedelta) -> Callable[[object], timedelta]:
    """A duration from `low` to `high` (messages quote the value as given)."""
    parse_any = duration()

    def parse(raw: object) -> timedelta:
        value = parse_any(raw)
        if not low <= value <= high:
            raise BadValueError(f"must be from {_short(low)} to {_short(high)}, got {shown(raw)}")
        return value

    return parse


def _short(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (v4 or v6, brackets allowed)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _http_parts(value: str, *, echo: bool) -> SplitResult:
    """An absolute http(s) URL with a good port; `echo=False` keeps a secret URL out of the
    message."""
    got = f", got {shown(value)}" if echo else ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValueError(f"must be an absolute http:// or https:// URL{got}")
    try:
        _ = parts.port
    except ValueError:
        raise BadValueError("has a bad port" + (f": {shown(value)}" if echo else "")) from None
    return parts


def url(raw: object) -> str:
    """An address of Countersign or its clients: http(s), no query, fragment or credentials;
    a trailing `/` is dropped so paths can be appended."""
    value = text(raw)
    parts = _http_parts(value, echo=True)
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise BadValueError(f"must not have a query or fragment, got {shown(value)}")
    if parts.username or parts.password:
        raise BadValueError("must not contain a user name or password")
    return value.rstrip("/")


def key_url(raw: object) -> str:
    """A JWKS URL: keys fetched in the clear can be swapped, so http only on loopback."""
    value = url(raw)
    if urlsplit(value).scheme == "http" and not is_loopback(urlsplit(value).hostname or ""):
        raise BadValueError(_HTTPS_ONLY)
    return value


def issuer_url(raw: object) -> str:
    """An OpenID issuer: checked like a key URL, kept exactly as written (a trailing '/'
    included), since the provider's `iss` must equal it character for character."""
    key_url(raw)
    return text(raw)


def receiver_url(raw: object) -> str:
    """Where notifications are posted: a query may carry the receiver's credential, so it is
    allowed and never echoed; https off loopback (messages carry names and justifications)."""
    value = text(raw)
    parts = _http_parts(value, echo=False)
    if parts.fragment:
        raise BadValueError("must not have a fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise BadValueError(_HTTPS_ONLY)
    return value


def redis_url(raw: object) -> SecretStr:
    """redis://, rediss://, unix:// (or valkey[s]://); secret, as it may hold a password."""
    value = text(raw)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme not in ("redis", "rediss", "unix", "valkey", "valkeys") or not rest:
        # Never echo the value: it may hold a password.
        raise BadValueError("must be a redis://, rediss:// or unix:// URL")
    return SecretStr(value)


def secret(raw: object) -> SecretStr:
    """A secret written inline: non-empty text, kept out of repr() and logs."""
    if not isinstance(raw, str) or not raw:
        raise BadValueError("must be non-empty text")
    return SecretStr(raw)


def secret_file(raw: object) -> str:
    """The content of the file named by `raw` (a `*_FILE` setting): UTF-8, at most 64 KiB,
    without the newline that `echo` and editors add."""
    path = Path(text(raw))
    try:
        with path.open("rb") as handle:
            data = handle.read(SECRET_FILE_LIMIT + 1)
    except OSError as error:
        raise BadValueError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > SECRET_FILE_LIMIT:
        raise BadValueError(f"{path} is larger than {SECRET_FILE_LIMIT} bytes")
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadValueError(f"{path} is not UTF-8 text") from None
    content = content.removesuffix("\n").removesuffix("\r")
    if not content:
        raise BadValueError(f"{path} is empty")
    return content


def secret_from_env(raw: object, environ: Mapping[str, str]) -> str:
    """The value of the variable named by `raw` (a `*_env` key); never a COUNTERSIGN_ one,
    which would be read as a setting too."""
    name = text(raw)
    if not _ENV_NAME.match(name):
        raise BadValueError(f"{shown(name)} is not an environment variable name")
    if name.startswith("COUNTERSIGN_"):
        raise BadValueError("names starting with COUNTERSIGN_ are settings; pick another name")
    value = environ.get(name, "")
    if not value:
        raise BadValueError(f"environment variable {name} is not set")
    return value


def text_list(raw: object, *, non_empty: bool = False) -> list[str]:
    """A YAML list, or one string of comma-separated items; no empty item."""
    if isinstance(raw, list | tuple):
        items = [text(item) for item in raw]
    else:
        items = [part.strip() for part in text(raw).split(",")]
    if any(not item for item in items):
        raise BadValueError("has an empty entry in the list")
    if non_empty and not items:
        raise BadValueError("must be a non-empty list")
    return items


def cidrs(raw: object) -> tuple[Network, ...]:
    """IP networks (v4/v6) without host bits; `none` for none."""
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return ()
    networks = []
    for item in text_list(raw):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise BadValueError(f"{shown(item)} is not an IP address or CIDR network") from None
            raise BadValueError(f"{shown(item)} has host bits set; did you mean {loose}?") from None
    return tuple(networks)


def choice(*options: str) -> Callable[[object], str]:
    """One of `options`, in any letter case (returned in lower case)."""

    def parse(raw: object) -> str:
        value = text(raw).lower()
        if value not in options:
            raise BadValueError(f"must be one of {', '.join(options)}, got {shown(raw)}")
        return value

    return parse


def name(raw: object) -> str:
    """A short name that appears in logs and commands: letters, digits, '.', '_', '-'."""
    value = text(raw)
    if not NAME.match(value):
        raise BadValueError("must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def header(raw: object) -> str:
    """An HTTP header name, lower-cased for ASGI lookups."""
    value = text(raw)
    if not _TOKEN_CHARS.match(value):
        raise BadValueError(f"{shown(value)} is not a valid HTTP header name")
    return value.lower()


def token_words(raw: object) -> tuple[str, ...]:
    """RFC 9110 tokens (e.g. OAuth scopes) separated by spaces or commas, duplicates dropped."""
    items = raw if isinstance(raw, list | tuple) else text(raw).replace(",", " ").split()
    words = tuple(dict.fromkeys(text(item) for item in items))
    if any(not _TOKEN_CHARS.match(word) for word in words):
        raise BadValueError(f"{shown(' '.join(words))} is not a list of scope names")
    return words


def cookie_name(raw: object) -> str:
    """A cookie name (an RFC 9110 token)."""
    value = text(raw)
    if not _TOKEN_CHARS.match(value):
        raise BadValueError(f"{shown(value)} is not a valid cookie name")
    return value


def cookie_domain(raw: object) -> str:
    """A cookie's Domain attribute, lower-cased."""
    value = text(raw).lower()
    if not _DOMAIN.match(value) or ".." in value:
        raise BadValueError(f"{shown(value)} is not a domain name")
    return value


def path(raw: object) -> Path:
    """A file or directory path (not checked: it may be made later)."""
    return Path(text(raw))


def paths(raw: object) -> tuple[Path, ...]:
    """A list of paths."""
    return tuple(Path(item) for item in text_list(raw))


def existing_file(raw: object) -> Path:
    """A path to a file that exists now."""
    value = path(raw)
    if not value.is_file():
        raise BadValueError(f"no such file: {value}")
    return value


def email_address(raw: object) -> str:
    """A bare e-mail address (`name@domain.tld`)."""
    value = text(raw)
    if not _ADDRESS.match(value):
        raise BadValueError(f"{value[:60]!r} is not an e-mail address")
    return value

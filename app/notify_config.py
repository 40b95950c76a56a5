"""The `notifications:` section of the config file: one entry per channel, checked up front.

```yaml
notifications:
  - {name: ops, kind: webhook, url: https://hooks.example.com/cs, secret_env: OPS_HOOK_SECRET}
  - {name: sre, kind: slack, url_file: /run/secrets/slack-url, applications: [grafana]}
  - {name: mail, kind: smtp, host: smtp.example.com, from: cs@example.com,
     password_file: /run/secrets/smtp, username: cs, notify_requester: true}
```
Secrets (`secret`, Slack's `url`, `password`) may be written inline, or read from an environment
variable (`<key>_env`) or a file (`<key>_file`). Problems are reported through `bad(where,
problem)`, all at once, like every other setting.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, assert_never
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from app.core.notify import ROUTABLE, ChannelKind, Route, Topic

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"()\[\]]+@[^@\s<>,;\"()\[\]]+\.[^@\s<>,;\"()\[\]]+$")
_FILE_LIMIT = 64 * 1024
_SECURITY = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_COMMON = ("name", "kind", "applications", "events")
_KEYS: dict[ChannelKind, tuple[str, ...]] = {
    ChannelKind.WEBHOOK: ("url", "secret", "secret_env", "secret_file"),
    ChannelKind.SLACK: ("url", "url_env", "url_file"),
    ChannelKind.SMTP: (
        "host",
        "port",
        "security",
        "username",
        "password",
        "password_env",
        "password_file",
        "from",
        "to",
        "notify_requester",
        "notify_approvers",
        "ca_file",
    ),
}

Report = Callable[[str, str], None]


class ChannelSettings(BaseModel):
    """One notification channel. Fields that do not apply to its kind stay unset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ChannelKind
    topics: frozenset[Topic] = ROUTABLE
    applications: frozenset[str] | None = None
    #: Webhook or Slack URL (Slack's holds its credential, hence secret).
    url: SecretStr | None = None
    #: The webhook signing key.
    secret: SecretStr | None = None
    host: str | None = None
    port: int | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()
    notify_requester: bool = False
    notify_approvers: bool = False
    ca_file: Path | None = None

    def route(self) -> Route:
        """The routing rule of this channel."""
        return Route(
            channel=self.name,
            kind=self.kind,
            topics=self.topics,
            applications=self.applications,
            to=self.to,
            notify_requester=self.notify_requester,
            notify_approvers=self.notify_approvers,
        )


class _BadError(ValueError):
    """One problem with one key of one channel."""


def parse_channels(
    raw: object, *, origin: str, environ: Mapping[str, str], bad: Report
) -> tuple[ChannelSettings, ...]:
    """The channels of `notifications:` (`origin` names the config file in messages)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        bad(f"notifications in {origin}", "must be a list of channels")
        return ()
    channels: list[ChannelSettings] = []
    for i, entry in enumerate(raw):
        channel = _Channel(entry, f"notifications[{i}]", origin, environ, bad).parse()
        if channel is None:
            continue
        if any(c.name == channel.name for c in channels):
            bad(f"notifications[{i}].name in {origin}", f"{channel.name!r} is used twice")
            continue
        channels.append(channel)
    return tuple(channels)


class _Channel:
    """Parses one entry, collecting every problem."""

    def __init__(
        self, entry: object, at: str, origin: str, environ: Mapping[str, str], bad: Report
    ) -> None:
        self.entry = entry if isinstance(entry, dict) else {}
        self.valid = isinstance(entry, dict)
        self.at = at
        self.origin = origin
        self.environ = environ
        self._bad = bad
        self.failed = False

    def bad(self, key: str | None, problem: str) -> None:
        where = f"{self.at}.{key}" if key else self.at
        self._bad(f"{where} in {self.origin}", problem)
        self.failed = True

    def field(self, key: str, parse: Callable[[object], Any], *, required: bool = False) -> Any:
        value = self.entry.get(key)
        if value is None:
            if required:
                self.bad(key, "required")
            return None
        try:
            return parse(value)
        except _BadError as error:
            self.bad(key, str(error))
            return None

    def parse(self) -> ChannelSettings | None:
        if not self.valid:
            self.bad(None, "must be a mapping with name, kind and where to send")
            return None
        name = self.field("name", _name, required=True)
        kind: ChannelKind | None = self.field("kind", _kind, required=True)
        allowed = set(_COMMON) | set(_KEYS.get(kind, ()) if kind else _all_keys())
        for key in self.entry:
            if key not in allowed:
                self.bad(str(key), "unknown key" + _suggest(str(key), allowed, kind))
        values: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "applications": self.field("applications", _applications),
            "topics": self.field("events", _topics) or ROUTABLE,
        }
        match kind:
            case ChannelKind.WEBHOOK:
                values["url"] = SecretStr(self.field("url", _http_url, required=True) or "")
                values["secret"] = self.secret("secret", required=True)
            case ChannelKind.SLACK:
                url = self.secret("url", required=True)
                if url is not None:
                    try:
                        _http_url(url.get_secret_value())
                    except _BadError as error:
                        self.bad("url", str(error))
                values["url"] = url
            case ChannelKind.SMTP:
                values.update(self.smtp())
            case None:
                pass  # already reported by `field`
            case unreachable:
                assert_never(unreachable)
        if self.failed or name is None or kind is None:
            return None
        return ChannelSettings(**values)

    def smtp(self) -> dict[str, Any]:
        security = self.field("security", _security) or "starttls"
        host = self.field("host", _text, required=True)
        port = self.field("port", _port) or _DEFAULT_PORTS[security]
        username = self.field("username", _text)
        password = self.secret("password", required=False)
        if (username is None) != (password is None):
            self.bad("username", "give both username and a password, or neither")
        if security == "none" and password is not None and host and not _is_loopback(host):
            self.bad("security", "'none' would send the password in the clear; use starttls or tls")
        to = self.field("to", _addresses) or ()
        values = {
            "host": host,
            "port": port,
            "security": security,
            "username": username,
            "password": password,
            "sender": self.field("from", _sender, required=True),
            "to": to,
            "notify_requester": bool(self.field("notify_requester", _bool)),
            "notify_approvers": bool(self.field("notify_approvers", _bool)),
            "ca_file": self.field("ca_file", _existing_file),
        }
        if not (to or values["notify_requester"] or values["notify_approvers"]):
            self.bad("to", "name addresses, or set notify_requester or notify_approvers")
        return values

    def secret(self, key: str, *, required: bool) -> SecretStr | None:
        given = [k for k in (key, f"{key}_env", f"{key}_file") if self.entry.get(k) is not None]
        if len(given) > 1:
            self.bad(given[1], f"set only one of {', '.join(given)}")
            return None
        if not given:
            if required:
                self.bad(key, f"required (inline, as {key}_env or as {key}_file)")
            return None
        source, value = given[0], self.entry[given[0]]
        try:
            if source.endswith("_env"):
                return SecretStr(_from_env(value, self.environ))
            if source.endswith("_file"):
                return SecretStr(_from_file(value))
            if not isinstance(value, str) or not value:
                raise _BadError("must be non-empty text")
            return SecretStr(value)
        except _BadError as error:
            self.bad(source, str(error))
            return None


def _all_keys() -> set[str]:
    return {key for keys in _KEYS.values() for key in keys}


def _suggest(key: str, allowed: set[str], kind: ChannelKind | None) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
    if close:
        return f"; did you mean {close[0]}?"
    if kind is not None and key in _all_keys():
        return f" for a {kind.value} channel"
    return ""


def _text(raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _BadError(f"expected text, got {type(raw).__name__}")
    text = str(raw).strip()
    if not text:
        raise _BadError("must not be empty")
    return text


def _name(raw: object) -> str:
    text = _text(raw)
    if not _NAME.match(text):
        raise _BadError("must be 1-64 letters, digits, '.', '_' or '-'")
    return text


def _kind(raw: object) -> ChannelKind:
    text = _text(raw).lower()
    try:
        return ChannelKind(text)
    except ValueError:
        raise _BadError(f"must be one of {', '.join(k.value for k in ChannelKind)}") from None


def _security(raw: object) -> str:
    text = _text(raw).lower()
    if text not in _SECURITY:
        raise _BadError(f"must be one of {', '.join(_SECURITY)}")
    return text


def _port(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 65535:
        raise _BadError("must be a port number from 1 to 65535")
    return raw


def _bool(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _BadError("must be true or false")
    return raw


def _strings(raw: object) -> list[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise _BadError("must be a non-empty list")
    return [_text(item) for item in items]


def _applications(raw: object) -> frozenset[str] | None:
    if isinstance(raw, str) and raw.strip().lower() == "all":
        return None
    return frozenset(_strings(raw))


def _topics(raw: object) -> frozenset[Topic]:
    if isinstance(raw, str) and raw.strip().lower() == "all":
        return ROUTABLE
    names = sorted(t.value for t in ROUTABLE)
    topics = set()
    for item in _strings(raw):
        if item not in names:
            close = difflib.get_close_matches(item, names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f"; use {', '.join(names)}"
            raise _BadError(f"unknown event {item!r}{hint}")
        topics.add(Topic(item))
    return frozenset(topics)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _http_url(raw: object) -> str:
    text = _text(raw)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _BadError("must be an absolute http:// or https:// URL")
    if parts.fragment:
        raise _BadError("must not have a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise _BadError("must use https (http only for localhost and loopback addresses)")
    try:
        _ = parts.port
    except ValueError:
        raise _BadError("has a bad port") from None
    return text


def _address(text: str) -> str:
    if not _ADDRESS.match(text):
        raise _BadError(f"{text[:60]!r} is not an e-mail address")
    return text


def _addresses(raw: object) -> tuple[str, ...]:
    return tuple(_address(item) for item in _strings(raw))


def _sender(raw: object) -> str:
    text = _text(raw)
    if any(c in text for c in "\r\n"):
        raise _BadError("must be one line")
    _, address = parseaddr(text)
    _address(address or text)
    return text


def _existing_file(raw: object) -> Path:
    path = Path(_text(raw))
    if not path.is_file():
        raise _BadError(f"no such file: {path}")
    return path


def _from_env(raw: object, environ: Mapping[str, str]) -> str:
    name = _text(raw)
    if not _ENV_NAME.match(name):
        raise _BadError(f"{name[:60]!r} is not an environment variable name")
    if name.startswith("COUNTERSIGN_"):
        raise _BadError("names starting with COUNTERSIGN_ are settings; pick another name")
    value = environ.get(name, "")
    if not value:
        raise _BadError(f"environment variable {name} is not set")
    return value


def _from_file(raw: object) -> str:
    path = Path(_text(raw))
    try:
        with path.open("rb") as handle:
            data = handle.read(_FILE_LIMIT + 1)
    except OSError as error:
        raise _BadError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > _FILE_LIMIT:
        raise _BadError(f"{path} is larger than {_FILE_LIMIT} bytes")
    try:
        text = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise _BadError(f"{path} is not UTF-8 text") from None
    if not text:
        raise _BadError(f"{path} is empty")
    return text

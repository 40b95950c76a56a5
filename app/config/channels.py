"""The `notifications:` section of the config file: one entry per channel, checked up front.

```yaml
notifications:
  - {name: ops, kind: webhook, url: https://hooks.example.com/cs, secret_env: OPS_HOOK_SECRET}
  - {name: sre, kind: slack, url_file: /run/secrets/slack-url, applications: [grafana],
     interactive: true}
  - {name: mail, kind: smtp, host: smtp.example.com, from: cs@example.com,
     password_file: /run/secrets/smtp, username: cs, notify_requester: true}
```
Each kind is one model and one registration (`_KINDS`: its keys and how they are read), so a
channel holds only what its kind uses. Secrets (`secret`, Slack's `url`, `password`) may be
written inline, or read from an environment variable (`<key>_env`) or a file (`<key>_file`).
Problems are reported through `bad(where, problem)`, all at once, like every other setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.config import values
from app.config.errors import BadValueError, Report
from app.core.notify import ROUTABLE, ChannelKind, Route, Topic

_COMMON = ("name", "kind", "applications", "events")
_SECURITY = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_TOPIC_NAMES = sorted(t.value for t in ROUTABLE)


class _Channel(BaseModel):
    """What every channel has: a name, and which events of which applications it hears."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ChannelKind
    topics: frozenset[Topic] = ROUTABLE
    #: None: every application.
    applications: frozenset[str] | None = None

    def route(self) -> Route:
        """The routing rule of this channel."""
        return Route(
            channel=self.name, kind=self.kind, topics=self.topics, applications=self.applications
        )


class WebhookChannel(_Channel):
    """A generic webhook: signed JSON posted to `url`."""

    kind: Literal[ChannelKind.WEBHOOK] = ChannelKind.WEBHOOK
    url: SecretStr
    #: The HMAC-SHA256 signing key.
    secret: SecretStr


class SlackChannel(_Channel):
    """A Slack incoming webhook, whose URL is its credential (hence secret). `interactive`:
    messages for approvers carry Approve/Deny buttons (the webhook's Slack app sends its
    interactions to Countersign, see COUNTERSIGN_SLACK_SIGNING_SECRET)."""

    kind: Literal[ChannelKind.SLACK] = ChannelKind.SLACK
    url: SecretStr
    interactive: bool = False


class SmtpChannel(_Channel):
    """E-mail through an SMTP server, to fixed addresses and/or the people of a request."""

    kind: Literal[ChannelKind.SMTP] = ChannelKind.SMTP
    host: str
    port: int
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    to: tuple[str, ...] = ()
    notify_requester: bool = False
    notify_approvers: bool = False
    ca_file: Path | None = None

    def route(self) -> Route:
        """The routing rule, with the recipients e-mail can reach."""
        return Route(
            channel=self.name,
            kind=self.kind,
            topics=self.topics,
            applications=self.applications,
            to=self.to,
            notify_requester=self.notify_requester,
            notify_approvers=self.notify_approvers,
        )


#: One notification channel, of one of the kinds.
ChannelSettings = Annotated[
    WebhookChannel | SlackChannel | SmtpChannel, Field(discriminator="kind")
]


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
        channel = _Entry(entry, f"notifications[{i}]", origin, environ, bad).parse()
        if channel is None:
            continue
        if any(c.name == channel.name for c in channels):
            bad(f"notifications[{i}].name in {origin}", f"{channel.name!r} is used twice")
            continue
        channels.append(channel)
    return tuple(channels)


class _Entry:
    """Reads one entry, collecting every problem."""

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
        except BadValueError as error:
            self.bad(key, str(error))
            return None

    def parse(self) -> ChannelSettings | None:
        if not self.valid:
            self.bad(None, "must be a mapping with name, kind and where to send")
            return None
        name = self.field("name", values.name, required=True)
        kind: ChannelKind | None = self.field("kind", _kind, required=True)
        allowed = set(_COMMON) | (set(_KINDS[kind].keys) if kind else _all_keys())
        for key in self.entry:
            if key not in allowed:
                self.bad(str(key), "unknown key" + _suggest(str(key), allowed, kind))
        common: dict[str, Any] = {
            "name": name,
            "applications": self.field("applications", _applications),
            "topics": self.field("events", _topics) or ROUTABLE,
        }
        if kind is None:  # already reported by `field`
            return None
        own = _KINDS[kind].read(self)
        if self.failed or name is None:
            return None
        return _KINDS[kind].model(**common, **own)

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
                return SecretStr(values.secret_from_env(value, self.environ))
            if source.endswith("_file"):
                return SecretStr(values.secret_file(value))
            return values.secret(value)
        except BadValueError as error:
            self.bad(source, str(error))
            return None


def _webhook(entry: _Entry) -> dict[str, Any]:
    return {
        "url": SecretStr(entry.field("url", values.receiver_url, required=True) or ""),
        "secret": entry.secret("secret", required=True),
    }


def _slack(entry: _Entry) -> dict[str, Any]:
    url = entry.secret("url", required=True)
    if url is not None:
        try:
            values.receiver_url(url.get_secret_value())
        except BadValueError as error:
            entry.bad("url", str(error))
    return {"url": url, "interactive": bool(entry.field("interactive", values.boolean))}


def _smtp(entry: _Entry) -> dict[str, Any]:
    security = entry.field("security", values.choice(*_SECURITY)) or "starttls"
    host = entry.field("host", values.text, required=True)
    username = entry.field("username", values.text)
    password = entry.secret("password", required=False)
    if (username is None) != (password is None):
        entry.bad("username", "give both username and a password, or neither")
    if security == "none" and password is not None and host and not values.is_loopback(host):
        entry.bad("security", "'none' would send the password in the clear; use starttls or tls")
    read = {
        "host": host,
        "port": entry.field("port", values.integer(1, 65535)) or _DEFAULT_PORTS[security],
        "security": security,
        "username": username,
        "password": password,
        "sender": entry.field("from", _sender, required=True),
        "to": entry.field("to", _addresses) or (),
        "notify_requester": bool(entry.field("notify_requester", values.boolean)),
        "notify_approvers": bool(entry.field("notify_approvers", values.boolean)),
        "ca_file": entry.field("ca_file", values.existing_file),
    }
    if not (read["to"] or read["notify_requester"] or read["notify_approvers"]):
        entry.bad("to", "name addresses, or set notify_requester or notify_approvers")
    return read


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of channel: its model, the keys it takes besides the common ones, how it reads
    them."""

    model: type[WebhookChannel] | type[SlackChannel] | type[SmtpChannel]
    keys: tuple[str, ...]
    read: Callable[[_Entry], dict[str, Any]]


_KINDS: dict[ChannelKind, _Kind] = {
    ChannelKind.WEBHOOK: _Kind(
        WebhookChannel, ("url", "secret", "secret_env", "secret_file"), _webhook
    ),
    ChannelKind.SLACK: _Kind(SlackChannel, ("url", "url_env", "url_file", "interactive"), _slack),
    ChannelKind.SMTP: _Kind(
        SmtpChannel,
        (
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
        _smtp,
    ),
}


def _all_keys() -> set[str]:
    return {key for kind in _KINDS.values() for key in kind.keys}


def _suggest(key: str, allowed: set[str], kind: ChannelKind | None) -> str:
    close = values.suggest(key, allowed)
    if close:
        return close
    if kind is not None and key in _all_keys():
        return f" for a {kind.value} channel"
    return ""


def _kind(raw: object) -> ChannelKind:
    return ChannelKind(values.choice(*(k.value for k in ChannelKind))(raw))


def _applications(raw: object) -> frozenset[str] | None:
    if isinstance(raw, str) and raw.strip().lower() == "all":
        return None
    return frozenset(values.text_list(raw, non_empty=True))


def _topics(raw: object) -> frozenset[Topic]:
    if isinstance(raw, str) and raw.strip().lower() == "all":
        return ROUTABLE
    topics = set()
    for item in values.text_list(raw, non_empty=True):
        if item not in _TOPIC_NAMES:
            hint = values.suggest(item, _TOPIC_NAMES, cutoff=0.6)
            raise BadValueError(
                f"unknown event {item!r}{hint or '; use ' + ', '.join(_TOPIC_NAMES)}"
            )
        topics.add(Topic(item))
    return frozenset(topics)


def _addresses(raw: object) -> tuple[str, ...]:
    return tuple(values.email_address(item) for item in values.text_list(raw, non_empty=True))


def _sender(raw: object) -> str:
    """`Name <address>` or a bare address, on one line (it becomes the From header)."""
    value = values.text(raw)
    if any(c in value for c in "\r\n"):
        raise BadValueError("must be one line")
    _, address = parseaddr(value)
    values.email_address(address or value)
    return value

"""The audit sinks (`audit_sinks:`) and the `AUDIT_SINK_*` timings: where each audit entry is
also delivered, checked up front.

```yaml
audit_sinks:
  - {name: siem, kind: http, url: https://siem.example.com/ingest, secret_file: /run/secrets/siem}
  - {name: rsyslog, kind: syslog, host: logs.example.com, transport: tls, ca_file: /etc/ca.pem}
  - {name: archive, kind: file, path: /var/log/countersign/audit.jsonl, max_bytes: 100MiB}
```
The list is one setting: written in the config file, or as YAML/JSON text in
`COUNTERSIGN_AUDIT_SINKS` (or a file named by `COUNTERSIGN_AUDIT_SINKS_FILE`). Each kind is one
model and one registration (`_KINDS`). Secrets (the HTTP signing key, a URL that may carry a
token) are written inline or read from a file (`secret_file`), and never appear in a message.
Every problem of every entry is reported at once, on one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.config import values
from app.config.errors import BadValueError

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_COMMON = ("name", "kind", "start")
_SIZE = re.compile(r"^([0-9]{1,12})\s*(B|KB|KiB|MB|MiB|GB|GiB)?$")
_UNITS = {"B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}
#: RFC 5424 facility names, in code order (local0..7 follow).
FACILITIES: tuple[str, ...] = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"),
    *("authpriv", "ftp", "ntp", "audit", "alert", "clock"),
    *(f"local{n}" for n in range(8)),
)


def _sinks(raw: object) -> tuple[AuditSink, ...]:
    return parse_sinks(raw)


#: (key, default, description, parser) of each setting; app.config.spec makes them Specs.
AUDIT_SINK_SPECS: tuple[tuple[str, str | None, str, Callable[[object], Any], str | None], ...] = (
    (
        "audit_sinks",
        "[]",
        "Audit sinks (http, syslog, file) as a YAML list, best in the config file (may hold "
        "secrets; use AUDIT_SINKS_FILE or secret_file). See 'Streaming the audit log'.",
        _sinks,
        "none",
    ),
    (
        "audit_sink_batch",
        "100",
        "Most audit entries sent to a sink in one delivery.",
        values.integer(1, 1000),
        None,
    ),
    (
        "audit_sink_timeout",
        "10s",
        "Time allowed for one delivery to an audit sink.",
        values.duration(),
        None,
    ),
    (
        "audit_sink_retry_max",
        "1m",
        "Longest wait between two tries of a failing audit sink (it never skips an entry).",
        values.duration(),
        None,
    ),
)


class _Sink(BaseModel):
    """What every sink has: a name, and where a sink seen for the first time starts."""

    model_config = _FROZEN

    name: str
    #: `beginning`: every entry still in the log; `end`: entries written from now on.
    start: Literal["beginning", "end"] = "beginning"


class HttpSink(_Sink):
    """JSON lines POSTed in batches, signed with HMAC-SHA256 like the webhook."""

    kind: Literal["http"] = "http"
    url: SecretStr
    secret: SecretStr
    ca_file: Path | None = None


class SyslogSink(_Sink):
    """RFC 5424 messages over TCP or TLS, octet-counted (RFC 6587)."""

    kind: Literal["syslog"] = "syslog"
    host: str
    port: int
    transport: Literal["tcp", "tls"] = "tls"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    facility: str = "authpriv"
    #: The HOSTNAME field; None: this machine's name.
    hostname: str | None = None


class FileSink(_Sink):
    """JSON lines appended to a file, rotated by size (`path.1` is the newest old file)."""

    kind: Literal["file"] = "file"
    path: Path
    max_bytes: int = 100 * 2**20
    backups: int = 5
    fsync: bool = True


#: One audit sink, of one of the kinds.
AuditSink = Annotated[HttpSink | SyslogSink | FileSink, Field(discriminator="kind")]


class AuditStreamSettings(BaseModel):
    """The audit sinks and how each is delivered to."""

    model_config = _FROZEN

    sinks: tuple[AuditSink, ...]
    sink_batch: int
    sink_timeout: timedelta
    sink_retry_max: timedelta


def parse_sinks(raw: object) -> tuple[AuditSink, ...]:
    """The sinks of `audit_sinks` (a YAML list, or its text); BadValueError naming every bad
    entry and key."""
    if isinstance(raw, str):
        try:
            raw = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise BadValueError("is not a YAML (or JSON) list of sinks") from None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BadValueError("must be a list of sinks")
    problems: list[str] = []
    sinks: list[AuditSink] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        entry = _Entry(item, f"[{i}]")
        sink = entry.parse()
        problems += entry.problems
        if entry.name is not None and entry.name in names:
            problems.append(f"[{i}].name: {entry.name!r} is used twice")
        elif sink is not None:
            sinks.append(sink)
        names.add(entry.name or "")
    if problems:
        raise BadValueError("; ".join(problems))
    return tuple(sinks)


class _Entry:
    """Reads one entry, collecting every problem."""

    def __init__(self, item: object, at: str) -> None:
        self.item = item if isinstance(item, dict) else {}
        self.valid = isinstance(item, dict)
        self.at = at
        self.problems: list[str] = []
        self.name: str | None = None

    def bad(self, key: str | None, problem: str) -> None:
        self.problems.append(f"{self.at}.{key}: {problem}" if key else f"{self.at}: {problem}")

    def field(self, key: str, parse: Callable[[object], Any], *, required: bool = False) -> Any:
        value = self.item.get(key)
        if value is None:
            if required:
                self.bad(key, "required")
            return None
        try:
            return parse(value)
        except BadValueError as error:
            self.bad(key, str(error))
            return None

    def secret(self, key: str) -> SecretStr | None:
        """Inline or `<key>_file`, exactly one of them; the value is never echoed."""
        given = [k for k in (key, f"{key}_file") if self.item.get(k) is not None]
        if len(given) != 1:
            self.bad(key, f"set one of {key} or {key}_file")
            return None
        try:
            if given[0].endswith("_file"):
                return SecretStr(values.secret_file(self.item[given[0]]))
            return values.secret(self.item[key])
        except BadValueError as error:
            self.bad(given[0], str(error))
            return None

    def parse(self) -> AuditSink | None:
        if not self.valid:
            self.bad(None, "must be a mapping with name, kind and where to deliver")
            return None
        name = self.name = self.field("name", values.name, required=True)
        kind: str | None = self.field("kind", values.choice(*_KINDS), required=True)
        allowed = set(_COMMON) | (set(_KINDS[kind].keys) if kind else set())
        for key in self.item:
            if kind is not None and key not in allowed:
                self.bad(str(key), "unknown key" + values.suggest(str(key), allowed))
        start: Any = self.field("start", values.choice("beginning", "end")) or "beginning"
        if kind is None:
            return None
        own = _KINDS[kind].read(self)
        if self.problems or name is None:
            return None
        model = _KINDS[kind].model
        return model(name=name, start=start, **own)


def _http(entry: _Entry) -> dict[str, Any]:
    url = entry.secret("url")
    if url is not None:
        try:
            values.receiver_url(url.get_secret_value())
        except BadValueError as error:
            entry.bad("url", str(error))
    return {
        "url": url,
        "secret": entry.secret("secret"),
        "ca_file": entry.field("ca_file", values.existing_file),
    }


def _syslog(entry: _Entry) -> dict[str, Any]:
    transport = entry.field("transport", values.choice("tcp", "tls")) or "tls"
    host = entry.field("host", values.text, required=True)
    if transport == "tcp" and host and not values.is_loopback(host):
        # Audit entries carry names, addresses and justifications: clear text stays on the host.
        entry.bad("transport", "tcp sends in the clear; use tls, or a relay on loopback")
    cert = entry.field("cert_file", values.existing_file)
    key = entry.field("key_file", values.existing_file)
    if (cert is None) != (key is None):
        entry.bad("cert_file", "give both cert_file and key_file, or neither")
    return {
        "host": host,
        "port": entry.field("port", values.integer(1, 65535))
        or (6514 if transport == "tls" else 514),
        "transport": transport,
        "ca_file": entry.field("ca_file", values.existing_file),
        "cert_file": cert,
        "key_file": key,
        "facility": entry.field("facility", values.choice(*FACILITIES)) or "authpriv",
        "hostname": entry.field("hostname", _hostname),
    }


def _file(entry: _Entry) -> dict[str, Any]:
    read = {
        "path": entry.field("path", values.path, required=True),
        "max_bytes": entry.field("max_bytes", size),
        "backups": entry.field("backups", values.integer(0, 100)),
        "fsync": entry.field("fsync", values.boolean),
    }
    return {key: value for key, value in read.items() if value is not None}


def size(raw: object) -> int:
    """A byte count from 4 KiB to 1 TiB: a number, or a number with B, KB, KiB, MB, MiB, GB, GiB."""
    found = _SIZE.match(str(raw).strip()) if isinstance(raw, int | str) else None
    if found is None or isinstance(raw, bool):
        raise BadValueError(f"must be a size such as 100MiB, got {values.shown(raw)}")
    count = int(found.group(1)) * _UNITS[found.group(2) or "B"]
    if not 4096 <= count <= 2**40:
        raise BadValueError(f"must be from 4KiB to 1024GiB, got {values.shown(raw)}")
    return count


def _hostname(raw: object) -> str:
    value = values.text(raw)
    if len(value) > 255 or not all(33 <= ord(c) <= 126 for c in value):
        raise BadValueError("must be 1-255 printable ASCII characters without spaces")
    return value


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of sink: its model, the keys it takes besides the common ones, how it reads them."""

    model: type[HttpSink] | type[SyslogSink] | type[FileSink]
    keys: tuple[str, ...]
    read: Callable[[_Entry], dict[str, Any]]


_KINDS: dict[str, _Kind] = {
    "http": _Kind(HttpSink, ("url", "url_file", "secret", "secret_file", "ca_file"), _http),
    "syslog": _Kind(
        SyslogSink,
        ("host", "port", "transport", "ca_file", "cert_file", "key_file", "facility", "hostname"),
        _syslog,
    ),
    "file": _Kind(FileSink, ("path", "max_bytes", "backups", "fsync"), _file),
}

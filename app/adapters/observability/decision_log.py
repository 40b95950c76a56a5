"""The decision log: one JSON line per forward-auth decision, written outside structlog, and
the decision capture: the same records, decisions only, appended to a file of their own.

A decision line is the hottest log line there is (one per request the proxies ask about), and
structlog's processor chain cost several times the rest of its logging. Here the line is a
flat dict serialised once with orjson (the person's fields serialised once per verified
identity and spliced in) and appended to the same buffered stream as every other log line (so
lines stay in order), flushed on a timer and at exit.

A decision record carries every input the policy core judged (docs/adr/0013): the request,
the person (subject, issuer, e-mail, groups, amr, the claims named by DECISION_CLAIMS), the
signals (client IP, country, device) and the time, so `countersign policy impact` can replay
it through another policy set. Never a token: the fields are a fixed set, none named like a
secret (checked when this module is imported), and a serialised line that holds anything
shaped like a token is scrubbed (redaction.scrub_record) before it is written, so a token a
client put in a path, a host or a header that reaches a field never reaches the log or the
capture. Until logging is configured as JSON (tests, the console format of `make run`),
decision lines go through structlog as before; the capture is written either way.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from enum import Enum
from typing import Any, Final

import orjson
import structlog

from app.adapters.observability.capture import CaptureFile
from app.adapters.observability.lines import BufferedLines, Timestamp
from app.adapters.observability.redaction import is_secret, may_hold_token, scrub_record
from app.core.context import AccessContext, Identity, IPAddress

#: What the policy core judges of a request: every record of a decision carries these.
INPUT_FIELDS: Final = (
    "method",
    "host",
    "path",
    "client_ip",
    "user",
    "subject",
    "issuer",
    "email",
    "groups",
    "amr",
    "claims",
    "country",
    "device_managed",
    "device_tags",
)
#: Every field a decision line may carry; a new field is added here first.
FIELDS: Final = frozenset(
    {
        "request_id",
        "proxy",
        "peer",
        *INPUT_FIELDS,
        "application",
        "policy",
        "effect",
        "reasons",
        "identity_problem",
        "problem",
        "status",
        "latency_ms",
    }
)
if any(is_secret(name) for name in FIELDS):  # pragma: no cover - a programming error
    raise RuntimeError("a decision log field is named like a secret: it would be redacted")

#: The event of a decision that replays: nginx's second call (the refusal page) repeats one.
DECIDED: Final = "decision_made"
#: A recorded claim value longer than this (or a list longer than MAX_CLAIM_ITEMS) is left
#: out: a record stays small, and no claim selector compares whole documents.
MAX_CLAIM_TEXT = 256
MAX_CLAIM_ITEMS = 50
_SCALARS = (str, int, float, bool)
#: People whose fields are remembered (about as many as the token cache holds identities).
MAX_PEOPLE = 10_000
_ANONYMOUS: Final[dict[str, Any]] = {
    "user": None,
    "subject": None,
    "issuer": None,
    "email": None,
    "groups": [],
    "amr": [],
    "claims": {},
}
#: `_ANONYMOUS` as the inside of a JSON object, spliced into a line as a person's part is.
_ANONYMOUS_JSON: Final = orjson.dumps(_ANONYMOUS)[1:-1]
_INFO = logging.INFO
_WARNING = logging.WARNING


class DecisionLog:
    """Where decision lines go: the lean writer once JSON logging is configured, else structlog;
    and, when a capture file is configured, every decision there too."""

    __slots__ = ("_addresses", "_capture", "_claims", "_lines", "_min_level", "_people", "_stamp")

    def __init__(self) -> None:
        self._lines: BufferedLines | None = None
        self._capture: CaptureFile | None = None
        self._claims: tuple[str, ...] = ()
        self._people: dict[int, tuple[Identity, dict[str, Any], bytes]] = {}
        self._addresses: dict[int, tuple[IPAddress, str]] = {}
        self._min_level = _INFO
        self._stamp = Timestamp()

    def configure(
        self,
        lines: BufferedLines | None,
        *,
        min_level: int,
        capture: CaptureFile | None = None,
        claims: Collection[str] = (),
    ) -> None:
        """JSON lines to `lines` from `min_level` on (None: through structlog); decisions also
        to `capture`; records carry the claims named in `claims` (never a secret-named one)."""
        self._lines = lines
        self._min_level = min_level
        if self._capture is not None and self._capture is not capture:
            self._capture.close()
        self._capture = capture
        self._claims = tuple(sorted(name for name in claims if not is_secret(name)))
        self._people = {}

    def inputs(self, context: AccessContext) -> dict[str, Any]:
        """The record fields of what the core judged: the request, the person, the signals."""
        fields = self._signals(context)
        identity = context.identity
        fields.update(_ANONYMOUS if identity is None else self._person(identity)[0])
        return fields

    def _signals(self, context: AccessContext) -> dict[str, Any]:
        """The request's own inputs: where it went, from where, on what device."""
        device = context.device
        client_ip = context.client_ip
        return {
            "method": context.method,
            "host": context.host,
            "path": context.path,
            "client_ip": None if client_ip is None else self._address(client_ip),
            "country": context.country,
            "device_managed": device.managed,
            "device_tags": sorted(device.tags) if device.tags else [],
        }

    def _person(self, identity: Identity) -> tuple[dict[str, Any], bytes]:
        """The person's fields, and the same serialised (scrubbed) as the inside of a JSON
        object, built once per verified identity: the authenticator hands out the same
        Identity for every request with one token (held here, so its id is unique)."""
        known = self._people.get(id(identity))
        if known is not None and known[0] is identity:
            return known[1], known[2]
        person = {
            "user": identity.user,
            "subject": identity.subject,
            "issuer": identity.issuer,
            "email": identity.email,
            "groups": sorted(identity.groups),
            "amr": sorted(identity.amr),
            "claims": self._recorded_claims(identity.claims) if self._claims else {},
        }
        serialised = orjson.dumps(person)
        if may_hold_token(serialised):
            serialised = orjson.dumps(scrub_record(dict(person)))
        if len(self._people) >= MAX_PEOPLE:
            self._people.clear()
        self._people[id(identity)] = (identity, person, serialised[1:-1])
        return person, serialised[1:-1]

    def _address(self, address: IPAddress) -> str:
        """The address as text, formatted once per address object (the signal reader hands
        out the same parsed object for every request from one address)."""
        known = self._addresses.get(id(address))
        if known is not None and known[0] is address:
            return known[1]
        text = str(address)
        if len(self._addresses) >= MAX_PEOPLE:
            self._addresses.clear()
        self._addresses[id(address)] = (address, text)
        return text

    def decided(self, event: str, fields: dict[str, Any], context: AccessContext) -> None:
        """One decision: `fields` (what the check knows) plus every input of `context`. The
        person's part of the line is serialised once per identity and spliced in."""
        lines = self._lines
        capture = self._capture if event == DECIDED else None
        if lines is None or (self._min_level > _INFO and capture is None):
            fields.update(self.inputs(context))
            self._write(_INFO, "info", event, _plain(fields))
            return
        fields.update(self._signals(context))
        identity = context.identity
        person = _ANONYMOUS_JSON if identity is None else self._person(identity)[1]
        line = _serialised(fields, event, "info", self._stamp.now())
        line = b"".join((line[:-1], b",", person, b"}"))
        if self._min_level <= _INFO:
            lines.msg(line)
        if capture is not None:
            capture.write(line)

    def warning(self, event: str, fields: dict[str, Any]) -> None:
        """One refused check (bad proxy metadata, an untrusted caller)."""
        self._write(_WARNING, "warning", event, fields)

    def flush(self) -> None:
        """Write out what is buffered (tests, and the capture before it is read)."""
        if self._capture is not None:
            self._capture.flush()
        if self._lines is not None:
            self._lines.flush()

    def _write(self, level: int, name: str, event: str, fields: dict[str, Any]) -> None:
        lines = self._lines
        # Decisions only: a refused check (a warning) decided nothing.
        capture = self._capture if event == DECIDED and level == _INFO else None
        if lines is None:
            if capture is not None:
                capture.write(_serialised(dict(fields), event, name, self._stamp.now()))
            getattr(structlog.get_logger("countersign.decision"), name)(event, **fields)
            return
        if level < self._min_level and capture is None:
            return
        line = _serialised(fields, event, name, self._stamp.now())
        if level >= self._min_level:
            lines.msg(line)
        if capture is not None:
            capture.write(line)

    def _recorded_claims(self, claims: Any) -> dict[str, Any]:
        recorded: dict[str, Any] = {}
        for name in self._claims:
            value = claims.get(name)
            if value is not None and (kept := _recordable(value)) is not None:
                recorded[name] = kept
        return recorded


def _serialised(fields: dict[str, Any], event: str, level: str, timestamp: str) -> bytes:
    """The line for `fields`, scrubbed of anything token-shaped (the rare slow path)."""
    fields["event"] = event
    fields["level"] = level
    fields["timestamp"] = timestamp
    line = orjson.dumps(fields)
    if may_hold_token(line):
        line = orjson.dumps(scrub_record(fields))
    return line


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with enums as their values and tuples as lists, as the JSON line has them (for
    structlog's console renderer, which would show their repr)."""
    for key, value in fields.items():  # assigning existing keys only: safe while iterating
        if isinstance(value, Enum):
            fields[key] = value.value
        elif isinstance(value, tuple):
            fields[key] = [item.value if isinstance(item, Enum) else item for item in value]
    return fields


def _recordable(value: object) -> object | None:
    """A claim value a claim selector can compare (a scalar or a list of them), or None."""
    if isinstance(value, _SCALARS):
        return value if not isinstance(value, str) or len(value) <= MAX_CLAIM_TEXT else None
    if isinstance(value, list | tuple) and len(value) <= MAX_CLAIM_ITEMS:
        items = [item for item in value if isinstance(item, _SCALARS)]
        if len(items) == len(value) and all(
            not isinstance(item, str) or len(item) <= MAX_CLAIM_TEXT for item in items
        ):
            return items
    return None


#: The process's decision log (configured by logs.configure_logging).
decision_log = DecisionLog()

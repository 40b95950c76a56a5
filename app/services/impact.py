"""Replay recorded decisions (decision log lines or the capture file) through two policy sets.

Lines are parsed with orjson and folded into distinct inputs before anything is judged. What
tells two records apart is only what either set can read: where the request routes in each
set (not the path itself), the person, and the fields the sets' selectors read (`group` reads
the groups, `ip` the client IP, ...; the time only for applications with a `time` selector,
and then only as which time rules hold at its minute). A million records of a working day
fold into about as many inputs as there are people times applications, and each is judged
once per set. A selector kind this module
does not know makes every field count (never a wrong fold).

Lines that are not decision records (other log events, console lines) are ignored and
counted; decision records without the inputs of docs/adr/0013 are counted as incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_address
from types import MappingProxyType
from typing import Any

import orjson

from app.core.context import Device, Identity, build_access_context
from app.core.policy.impact import (
    Case,
    Direction,
    Example,
    ImpactReport,
    Outcome,
    Shift,
    compare,
    rule_kinds,
    time_rules,
    time_signature,
)
from app.core.policy.policy_set import PolicySet
from app.core.selectors.base import Rule

#: A longer line is not a decision record of ours.
MAX_LINE = 64 * 1024
DECIDED = b'"event":"decision_made"'
#: Where the run of a record's inputs starts, what follows it, and the time's field.
_FIRST_INPUT = b'"method":'
_AFTER_INPUTS = b',"application":'
_TIMESTAMP = b'"timestamp":"'
#: The record fields each selector kind reads (time is handled per application).
READS: dict[str, tuple[str, ...]] = {
    "everyone": (),
    "email": ("email",),
    "email_domain": ("email",),
    "group": ("groups",),
    "ip": ("client_ip",),
    "country": ("country",),
    "device": ("device_managed", "device_tags"),
    "auth_method": ("amr",),
    "claim": ("claims",),
    "time": (),
}
#: Every input field, for a selector kind not in READS.
ALL_READS: tuple[str, ...] = (
    *("email", "groups", "client_ip", "country", "device_managed", "device_tags", "amr"),
    *("claims", "host", "path", "method"),
)
#: Routes remembered per (host, path); more distinct paths than this are routed each time.
MAX_ROUTES = 100_000
Key = tuple[Any, ...]
Route = tuple[str | None, str | None, bool]


class NotADecisionError(Exception):
    """A line of the decision log that records no decision (a refused check, another event)."""


@dataclass(slots=True)
class Tally:
    """Distinct inputs, each with its count and first record; and what could not be used."""

    before: PolicySet
    after: PolicySet
    #: key → [records seen, the first line]
    inputs: dict[Key, list[Any]] = field(init=False, default_factory=dict)
    records: int = field(init=False, default=0)
    ignored: int = field(init=False, default=0)
    incomplete: int = field(init=False, default=0)
    _reads: tuple[str, ...] = field(init=False, default=())
    _timed: frozenset[str] = field(init=False, default=frozenset())
    _clock: tuple[Rule, ...] = field(init=False, default=())
    _minutes: dict[str, tuple[bool, ...]] = field(init=False, default_factory=dict)
    _known: dict[bytes, tuple[Key, bool]] = field(init=False, default_factory=dict)
    _routes: dict[tuple[str, str], Route] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        kinds = rule_kinds(self.before) | rule_kinds(self.after)
        if kinds <= READS.keys():
            self._reads = tuple(sorted({name for kind in kinds for name in READS[kind]}))
        else:
            self._reads = ALL_READS
        self._timed = timed_applications(self.before) | timed_applications(self.after)
        self._clock = time_rules(self.before, self.after)

    @property
    def reads_claims(self) -> bool:
        """Whether either set has a `claim` selector (records then need their claims)."""
        return "claims" in self._reads

    def add_lines(self, lines: Iterable[bytes]) -> None:
        """Fold decision lines in; anything else is counted and left.

        The decision log writes a record's inputs as one run of fields, from `method` to
        `claims`; lines whose run is byte-for-byte one already seen share its key without
        being parsed again (the time, for timed applications, is read from the line)."""
        inputs, known = self.inputs, self._known
        for line in lines:
            if len(line) > MAX_LINE or DECIDED not in line:
                self.ignored += 1
                continue
            start, end = line.find(_FIRST_INPUT), line.rfind(_AFTER_INPUTS)
            run = line[start:end] if 0 <= start < end else None
            folded = known.get(run) if run is not None else None
            if folded is None:
                folded = self._parse(line)
                if folded is None:
                    continue
                if run is not None and len(known) < MAX_ROUTES:
                    known[run] = folded
            key, timed = folded
            if timed:
                at = line.find(_TIMESTAMP) + len(_TIMESTAMP)
                try:
                    key = (*key, self._when(line[at : at + 16].decode("ascii", "replace")))
                except ValueError:  # no readable time: the record cannot be replayed
                    self.incomplete += 1
                    continue
            self.records += 1
            seen = inputs.get(key)
            if seen is None:
                inputs[key] = [1, line]
            else:
                seen[0] += 1

    def _parse(self, line: bytes) -> tuple[Key, bool] | None:
        """The key of a line parsed in full (None, counted, when it cannot be replayed)."""
        try:
            return self._key(orjson.loads(line))
        except (orjson.JSONDecodeError, NotADecisionError):
            self.ignored += 1
        except (KeyError, TypeError, ValueError, AttributeError):
            self.incomplete += 1
        return None

    def add_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Fold records already decoded (as the API receives them) in."""
        self.add_lines(orjson.dumps({**r, "event": "decision_made"}) for r in records)

    def cases(self) -> Iterable[Case]:
        """One case per distinct input (records whose values cannot be an input are skipped
        and counted as incomplete)."""
        for count, line in self.inputs.values():
            try:
                case = _case(orjson.loads(line), count)
            except (KeyError, TypeError, ValueError, AttributeError):
                self.incomplete += count
                self.records -= count
                continue
            yield case

    def _key(self, record: dict[str, Any]) -> tuple[Key, bool]:
        """What tells two records' inputs apart, and whether the time does too (raises
        KeyError/TypeError when an input is missing: such a record cannot be replayed)."""
        if record["event"] != "decision_made" or record.get("effect") == "bad_request":
            raise NotADecisionError
        before, after, timed = self._route(record["host"], record["path"])
        key: list[Any] = [before, after, record["subject"], record["issuer"], record["user"]]
        for name in self._reads:
            value = record[name]
            if value.__class__ is list:
                value = tuple(value)
            elif value.__class__ is dict:
                value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            key.append(value)
        if timed:
            _minute(_text(record["timestamp"]))  # a record whose time cannot be read is refused
        return tuple(key), timed

    def _when(self, stamp: str) -> tuple[bool, ...]:
        """Which time rules hold at the record's minute (remembered per minute)."""
        minute = stamp[:16]
        known = self._minutes.get(minute)
        if known is None:
            known = time_signature(self._clock, _minute(stamp))
            if len(self._minutes) < MAX_ROUTES:
                self._minutes[minute] = known
        return known

    def _route(self, host: str, path: str) -> Route:
        routes = self._routes
        known = routes.get((host, path))
        if known is None:
            old = self.before.resolve(_text(host), _text(path))
            new = self.after.resolve(host, path)
            known = (
                old.id if old else None,
                new.id if new else None,
                bool(old and old.id in self._timed) or bool(new and new.id in self._timed),
            )
            if len(routes) < MAX_ROUTES:
                routes[host, path] = known
        return known


def replay(tally: Tally) -> ImpactReport:
    """Compare the sets over every distinct input of `tally`."""
    return compare(tally.before, tally.after, tally.cases())


def timed_applications(policy_set: PolicySet) -> frozenset[str]:
    """The applications whose decisions depend on the time (a `time` selector)."""
    return frozenset(
        app.id
        for app in policy_set.applications.values()
        if any(
            rule.kind == "time"
            for policy in app.policies
            for rule in (*policy.include, *policy.require, *policy.exclude)
        )
    )


def report_dict(report: ImpactReport, tally: Tally) -> dict[str, Any]:
    """The report as JSON values (the CLI's --json and the API's answer)."""
    notes = []
    if tally.reads_claims and not any(b'"claims":{"' in line for _, line in tally.inputs.values()):
        notes.append(
            "claim selectors are in use but no record carries claims: "
            "list their names in COUNTERSIGN_DECISION_CLAIMS"
        )
    return {
        "decisions": report.decisions,
        "distinct_inputs": report.distinct,
        "unchanged": report.unchanged,
        "ignored_lines": tally.ignored,
        "incomplete_records": tally.incomplete,
        "gains": [_shift(s) for s in report.of(Direction.GAIN)],
        "losses": [_shift(s) for s in report.of(Direction.LOSS)],
        "changed": [_shift(s) for s in report.of(Direction.CHANGED)],
        "notes": notes,
    }


def _shift(shift: Shift) -> dict[str, Any]:
    return {
        "application": shift.application,
        "before": _outcome(shift.before),
        "after": _outcome(shift.after),
        "decisions": shift.decisions,
        "people": len(shift.people),
        "examples": [
            {
                "user": e.user,
                "method": e.method,
                "url": e.url,
                "at": e.at,
                "request_id": e.request_id,
            }
            for e in shift.examples
        ],
    }


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "application": outcome.application,
        "policy": outcome.policy,
        "effect": outcome.effect,
        "reason": outcome.reason,
        "access": outcome.access.value,
    }


def _case(record: Mapping[str, Any], count: int) -> Case:
    """The AccessContext a record describes, judged at the minute it was recorded."""
    host, path, method = _text(record["host"]), _text(record["path"]), _text(record["method"])
    raw_ip = record.get("client_ip")
    context = build_access_context(
        host=host,
        path=path,
        method=method,
        identity=_identity(record),
        signals=(
            ip_address(raw_ip) if raw_ip else None,
            _optional_text(record.get("country")),
            Device(
                managed=record.get("device_managed") is True,
                tags=frozenset(_texts(record.get("device_tags") or [])),
            ),
        ),
    )
    stamp = _text(record["timestamp"])
    example = Example(
        user=_optional_text(record.get("user")),
        method=method,
        url=f"{host}{path}",
        at=stamp,
        request_id=_optional_text(record.get("request_id")),
    )
    return Case(context, _minute(stamp), count, example)


def _identity(record: Mapping[str, Any]) -> Identity | None:
    subject = record.get("subject")
    if subject is None:
        return None
    claims = record.get("claims") or {}
    if not isinstance(claims, dict):
        raise TypeError("claims")
    return Identity(
        subject=_text(subject),
        email=_optional_text(record.get("email")),
        groups=frozenset(_texts(record.get("groups") or [])),
        amr=frozenset(_texts(record.get("amr") or [])),
        claims=MappingProxyType(
            {str(k): tuple(v) if isinstance(v, list) else v for k, v in claims.items()}
        ),
        issuer=_optional_text(record.get("issuer")) or "",
    )


def _minute(stamp: str) -> datetime:
    """The minute a record was written at (`2026-12-03T07:04:13.123Z` → 07:04 UTC)."""
    return datetime.fromisoformat(stamp[:16]).replace(tzinfo=UTC)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _texts(values: object) -> list[str]:
    if not isinstance(values, list):
        raise TypeError("expected a list")
    return [_text(v) for v in values]

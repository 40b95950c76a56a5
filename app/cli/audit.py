"""`countersign audit verify|export`: check the hash chain of the audit log, or write it out as
JSON lines for an auditor or for write-once storage.

Exit codes: 0 done (verify: the chain is intact); 1 verify found an edited or missing entry, or
export met an entry it cannot read; 2 the settings or the command line are wrong, or Redis
cannot be reached. Whatever Redis holds, the answer is one line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.adapters.store import audit, local_server
from app.adapters.store.connection import RedisConfigError, connect_for
from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY, AUDIT_HEAD_KEY, AUDIT_KEY
from app.cli import audit_checkpoints
from app.cli.audit_checkpoints import Anchors, CheckpointUsageError, ForgedCheckpointError
from app.config import SettingsError, load_settings
from app.config.settings import RedisSettings
from app.core.approvals import EventType
from app.core.audit_checkpoint import EVENT_TYPE as CHECKPOINT_EVENT

#: A CLI reads the whole log: give Redis longer than the service's per-call timeout.
MIN_TIMEOUT = 5.0
#: Entries read per XRANGE.
BATCH = 1000
#: How often verify starts over when the log moved while it was being read.
VERIFY_ATTEMPTS = 5
#: Every event type, checkpoints included (their entries are written by the checkpointer).
EVENT_TYPES = tuple(dict.fromkeys([*(t.value for t in EventType), CHECKPOINT_EVENT]))


class RedisUnavailableError(RuntimeError):
    """Redis could not be reached or refused a command; `str()` is the one line to print."""


def register(sub: Any) -> None:
    """Add `audit verify` and `audit export`."""
    parser = sub.add_parser(
        "audit",
        help="verify or export the audit log",
        description=(
            "Work with the hash-chained audit log in Redis (COUNTERSIGN_REDIS_URL; unset, the "
            "private Redis of the service running on COUNTERSIGN_DATA_DIR)."
        ),
    )
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="check that no entry was edited or deleted",
        description=(
            "Walk the chain: exit 0 when intact, 1 naming the first bad entry. When retention "
            "trimmed the oldest entries, the kept ones verify from the retention checkpoint. "
            "With --checkpoints, the log must also extend every signed checkpoint."
        ),
    )
    _redis_option(verify)
    audit_checkpoints.add_options(verify)
    verify.set_defaults(handler=verify_command)
    export = actions.add_parser(
        "export",
        help="write entries as JSON lines to stdout",
        description=(
            "Write one JSON object per entry, oldest first: the stream id, the chain hashes "
            "(prev, hash) and the event. Filters combine; times are when the entry was written. "
            'When retention trimmed older entries, the first line is {"checkpoint": {id, hash, '
            "count, at}}: the first kept entry's prev is its hash."
        ),
    )
    _redis_option(export)
    export.add_argument("--since", metavar="ISO", help="entries written at or after this time")
    export.add_argument("--until", metavar="ISO", help="entries written before this time")
    export.add_argument("--application", help="events about this application id")
    export.add_argument("--user", help="events whose user or actor is this (e.g. an email)")
    export.add_argument(
        "--type",
        action="append",
        default=[],
        dest="types",
        metavar="TYPE",
        help=f"only this event type (repeatable): {', '.join(EVENT_TYPES)}",
    )
    export.set_defaults(handler=export_command)


def _redis_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-url",
        help="Redis to read (default: COUNTERSIGN_REDIS_URL and its settings, else the private "
        "Redis of the service running on COUNTERSIGN_DATA_DIR)",
    )


# -- verify ------------------------------------------------------------------------------------


def verify_command(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Print whether the chain is intact (and extends the signed checkpoints, if given); see
    the module docstring for exit codes."""
    try:
        anchors = audit_checkpoints.load_anchors(args.checkpoints, args.public_keys)
    except CheckpointUsageError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    except ForgedCheckpointError as exc:
        print(f"checkpoints damaged: {exc}", file=sys.stdout)
        return 1
    return _with_redis(args, environ, lambda client: _verify(client, sys.stdout, anchors))


async def _verify(client: Any, out: TextIO, anchors: Anchors | None = None) -> int:
    verdict = audit.Verdict(ok=False, checked=0)
    length = 0
    check = None
    for _ in range(VERIFY_ATTEMPTS):
        check = anchors.check() if anchors is not None else None
        on_page = audit_checkpoints.observer(check) if check is not None else None
        head_before = await client.get(AUDIT_HEAD_KEY)
        checkpoint_before = await client.get(AUDIT_CHECKPOINT_KEY)
        try:
            audit.Head.parse(head_before)
        except (ValueError, KeyError, TypeError):
            print(f"audit log damaged: the head key {AUDIT_HEAD_KEY} cannot be read", file=out)
            return 1
        length = int(await client.xlen(AUDIT_KEY))
        try:
            verdict = await audit.verify(client, on_page=on_page)
        except UnicodeDecodeError:
            print("audit log damaged: an entry holds bytes that are not UTF-8 text", file=out)
            return 1
        # A transition that lands while the log is read moves the head, a retention trim moves
        # the checkpoint: read it again.
        if verdict.ok or (
            await client.get(AUDIT_HEAD_KEY) == head_before
            and await client.get(AUDIT_CHECKPOINT_KEY) == checkpoint_before
        ):
            break
    if verdict.ok and check is not None:
        report = audit_checkpoints.anchored(verdict, check)
        code, lines = audit_checkpoints.outcome(report, intact=_intact(verdict))
        print(*lines, sep="\n", file=out)
        return code
    if verdict.ok:
        print(f"audit log intact: {_intact(verdict)}", file=out)
        return 0
    if verdict.bad_entry is None:  # the damage is in no entry (the checkpoint key)
        where = ""
    elif verdict.checked < length:
        where = f" at entry {verdict.bad_entry}"
    else:  # every entry chains; only the head knows of more: the newest ones are gone
        where = f" after entry {verdict.bad_entry}" if length else ""
    print(f"audit log damaged{where}: {verdict.problem}", file=out)
    print(f"{_entries(verdict.checked)} verified before the damage", file=out)
    return 1


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _intact(verdict: audit.Verdict) -> str:
    checkpoint = verdict.checkpoint
    if checkpoint is None:
        return _entries(verdict.checked)
    kept = "entry verifies" if verdict.checked == 1 else "entries verify"
    return (
        f"{_entries(checkpoint.count)} up to {checkpoint.id} were trimmed by retention at "
        f"{checkpoint.at}; the kept {verdict.checked} {kept} from checkpoint {checkpoint.hash}"
    )


# -- export ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which entries to write: a half-open time range, then event filters (all must match)."""

    since: datetime | None = None
    until: datetime | None = None
    application: str | None = None
    user: str | None = None
    types: frozenset[str] = frozenset()

    @property
    def looks_inside(self) -> bool:
        """Whether an entry must be parsed to be judged."""
        return self.application is not None or self.user is not None or bool(self.types)

    def keeps(self, event: Mapping[str, Any]) -> bool:
        """Whether the event passes the application, user and type filters."""
        if self.application is not None and event.get("application") != self.application:
            return False
        if self.user is not None and self.user not in (event.get("user"), event.get("actor")):
            return False
        return not self.types or event.get("type") in self.types


def export_command(args: argparse.Namespace, *, environ: Mapping[str, str] | None = None) -> int:
    """Write matching entries as JSON lines; see the module docstring for exit codes."""
    try:
        wanted = ExportFilter(
            since=_moment(args.since, "--since"),
            until=_moment(args.until, "--until"),
            application=args.application,
            user=args.user,
            types=frozenset(_event_type(t) for t in args.types),
        )
    except ValueError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    return _with_redis(args, environ, lambda client: _export(client, wanted, sys.stdout))


async def _export(client: Any, wanted: ExportFilter, out: TextIO) -> int:
    unreadable = 0
    checkpoint = None
    try:
        checkpoint = audit.Checkpoint.parse(await client.get(AUDIT_CHECKPOINT_KEY))
    except audit.CheckpointError:  # still write the entries: they are the evidence
        unreadable += 1
        print(
            f"countersign: the retention checkpoint {AUDIT_CHECKPOINT_KEY} cannot be read; "
            "run `countersign audit verify`",
            file=sys.stderr,
        )
    try:
        if checkpoint is not None:
            first = {"checkpoint": checkpoint.as_dict()}
            out.write(json.dumps(first, separators=(",", ":")) + "\n")
        async for entry_id, fields in _entries_between(client, wanted.since, wanted.until):
            event = _event(fields.get("event", ""))
            if event is None:
                unreadable += 1
                print(
                    f"countersign: entry {entry_id} holds no readable event; "
                    "run `countersign audit verify`",
                    file=sys.stderr,
                )
                if wanted.looks_inside:
                    continue
            elif not wanted.keeps(event):
                continue
            line: dict[str, Any] = {
                "id": entry_id,
                "prev": fields.get("prev"),
                "hash": fields.get("hash"),
                "event": event,
            }
            if event is None:
                line["raw"] = fields.get("event")
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep the interpreter from
        # failing again when it flushes stdout on exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 1
    return 1 if unreadable else 0


async def _entries_between(
    client: Any, since: datetime | None, until: datetime | None
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """Entries written in [since, until), oldest first. A stream id starts with the
    millisecond Redis wrote it, so the range is read, not filtered."""
    low = str(_milliseconds(since)) if since is not None else "-"
    high = f"({_milliseconds(until)}-0" if until is not None else "+"
    while True:
        rows = await client.xrange(AUDIT_KEY, min=low, max=high, count=BATCH)
        for raw_id, raw_fields in rows:
            yield _text(raw_id), {_text(k): _text(v) for k, v in raw_fields.items()}
        if len(rows) < BATCH:
            return
        low = "(" + _text(rows[-1][0])


def _event(text: str) -> dict[str, Any] | None:
    try:
        event = json.loads(text)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _moment(text: str | None, flag: str) -> datetime | None:
    """An ISO 8601 date or time; one without a zone is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{flag}: expected an ISO 8601 time like 2024-05-06T10:00:00Z, got {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _event_type(text: str) -> str:
    if text not in EVENT_TYPES:
        raise ValueError(f"--type: unknown event type {text!r}; one of {', '.join(EVENT_TYPES)}")
    return text


def _milliseconds(moment: datetime) -> int:
    return max(0, int(moment.timestamp() * 1000))


def _text(raw: bytes | str) -> str:
    # Entries are written as UTF-8; anything else is shown, not fatal (verify will flag it).
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


# -- Redis -------------------------------------------------------------------------------------


def _with_redis(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None,
    work: Callable[[Any], Awaitable[int]],
) -> int:
    """Load the settings, connect, run `work`, and turn every failure into one line."""
    env = dict(os.environ if environ is None else environ)
    if args.redis_url is not None:
        env["COUNTERSIGN_REDIS_URL"] = args.redis_url
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    configured = settings.redis.url.get_secret_value() if settings.redis.url else None
    try:
        url = local_server.redis_url(configured, Path(settings.server.data_dir))
    except local_server.NoLocalServerError as exc:
        print(f"countersign: {exc} (or pass --redis-url)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(url, settings.redis, work))
    except RedisUnavailableError as exc:
        print(f"countersign: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, but the operator still gets one line, not a traceback
        print(f"countersign: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


async def _run(url: str, settings: RedisSettings, work: Callable[[Any], Awaitable[int]]) -> int:
    where = _display(url)
    try:
        client = connect_for(
            settings, url=url, timeout=max(settings.timeout.total_seconds(), MIN_TIMEOUT)
        )
    except (RedisConfigError, ValueError) as exc:
        raise RedisUnavailableError(f"cannot use Redis at {where}: {exc}") from None
    try:
        return await work(client)
    except (RedisConnectionError, RedisTimeoutError, RedisClusterException, OSError) as exc:
        raise RedisUnavailableError(f"cannot reach Redis at {where}: {_one_line(exc)}") from None
    except RedisError as exc:
        raise RedisUnavailableError(f"Redis at {where} refused: {_one_line(exc)}") from None
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _display(url: str) -> str:
    """The URL without credentials, fit to print."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"

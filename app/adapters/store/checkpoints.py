"""The checkpointer: every `every` entries (and after `interval` with new entries) it signs a
checkpoint of the audit log — the count and the chain hash of the entry at that count — and
appends it to the log as an `audit_checkpoint` entry and to this replica's checkpoint file
(docs/adr/0018-signed-audit-checkpoints.md).

Every replica runs one. The checkpoint entry, and the anchor key naming the last checkpoint,
are written through the store's transaction path, WATCHing the audit head and the anchor: of
replicas racing for the same count exactly one writes, the others see it done. Before signing,
the entries since the last checkpoint must chain from its hash: a damaged chain is never
signed over.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from app.adapters.store import audit
from app.adapters.store.checkpoint_keys import CheckpointKeyError, CheckpointSigner
from app.adapters.store.durability import DurableWrites
from app.adapters.store.keys import AUDIT_CHECKPOINT_KEY, AUDIT_HEAD_KEY, AUDIT_KEY, PREFIX
from app.adapters.store.transactions import Transactions
from app.config import SettingsError
from app.config.audit_checkpoints import AuditCheckpointSettings
from app.core.audit_checkpoint import CheckpointClaim, CheckpointRecordError, SignedCheckpoint

#: The last checkpoint written to the log: the signed record, the stream id of the entry it
#: pins, and the count once its own entry was appended.
ANCHOR_KEY = f"{PREFIX}:audit:anchor"
KEY_SETTING = "COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE"
#: How often each replica looks at the audit head.
POLL_SECONDS = 5.0
#: Checkpoints one look may write while catching up (after downtime, say).
MAX_PER_LOOK = 100

log = structlog.get_logger("countersign.audit_checkpoints")


class AnchorError(ValueError):
    """The anchor key holds something that is not an anchor."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last checkpoint in the log, the id of the entry it pins, and `logged`: the count
    after the checkpoint's own entry (entries beyond it are new)."""

    checkpoint: SignedCheckpoint
    id: str
    logged: int

    @classmethod
    def parse(cls, raw: bytes | str | None) -> Anchor | None:
        """Read the anchor key; absent means no checkpoint was ever written."""
        if raw is None:
            return None
        try:
            body = json.loads(raw)
            anchor = cls(SignedCheckpoint.from_dict(body["checkpoint"]), body["id"], body["logged"])
        except (ValueError, KeyError, TypeError, CheckpointRecordError):
            raise AnchorError("not an anchor") from None
        if not isinstance(anchor.id, str) or type(anchor.logged) is not int:
            raise AnchorError("not an anchor")
        return anchor

    def dump(self) -> str:
        """The anchor key's value."""
        return json.dumps(
            {"checkpoint": self.checkpoint.as_dict(), "id": self.id, "logged": self.logged}
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one step writes: a signed checkpoint and the id of the entry it pins; or nothing
    (`problem` says why, when something is wrong rather than simply not due)."""

    checkpoint: SignedCheckpoint | None = None
    pinned: str = ""
    problem: str | None = None

    @property
    def changed(self) -> bool:
        """Whether there is anything to write (read by Transactions)."""
        return self.checkpoint is not None


@dataclass(frozen=True, slots=True)
class _Start:
    """Where the entries to sign over begin: after `count` entries whose last had `hash` and
    stream id `id` (None: the genesis)."""

    count: int
    hash: str
    id: str | None
    from_cut: bool = False


class Checkpointer:
    """Signs and writes checkpoints for one process."""

    def __init__(
        self,
        client: Any,
        *,
        signer: CheckpointSigner,
        every: int,
        interval: timedelta,
        file: Path | None,
        transactions: Transactions,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._signer = signer
        self._verifier = signer.verifier()
        self._every = every
        self._interval = interval
        self._file = file
        self._transactions = transactions
        self._clock = clock

    @classmethod
    def build(
        cls,
        settings: AuditCheckpointSettings,
        *,
        client: Any,
        durable: DurableWrites,
        data_dir: Path,
        redis_timeout: float,
        clock: Callable[[], datetime],
    ) -> Checkpointer | None:
        """The checkpointer `settings` ask for, or None when checkpoints are off; a key file
        that cannot sign is a SettingsError (one line naming the setting, as at start-up)."""
        if settings.key_file is None:
            return None
        try:
            signer = CheckpointSigner.from_file(settings.key_file)
        except CheckpointKeyError as exc:
            raise SettingsError((KEY_SETTING, str(exc))) from None
        return cls(
            client,
            signer=signer,
            every=settings.every,
            interval=settings.interval,
            file=settings.file_under(data_dir),
            transactions=Transactions(client, durable=durable, redis_timeout=redis_timeout),
            clock=clock,
        )

    async def run(self, poll: float = POLL_SECONDS) -> None:
        """Look every `poll` seconds until cancelled; failures are logged and the loop goes on."""
        while True:
            try:
                await self.catch_up()
            except Exception as exc:  # Redis down, disk full: try again next look
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                log.warning("audit_checkpoint_failed", problem=str(exc)[:200])
            await asyncio.sleep(poll)

    async def catch_up(self) -> list[SignedCheckpoint]:
        """Write every checkpoint that is due (at most MAX_PER_LOOK); the ones this process
        wrote, oldest first."""
        written: list[SignedCheckpoint] = []
        for _ in range(MAX_PER_LOOK):
            checkpoint = await self.step()
            if checkpoint is None:
                break
            written.append(checkpoint)
        return written

    async def step(self) -> SignedCheckpoint | None:
        """Write the next checkpoint if one is due and no other replica wrote it first; the
        checkpoint this process wrote, or None."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(AUDIT_HEAD_KEY)
            pipe.get(ANCHOR_KEY)
            pipe.get(AUDIT_CHECKPOINT_KEY)
            pipe.xrange(AUDIT_KEY, min="-", max="+", count=1)
            raw_head, raw_anchor, raw_cut, first = await pipe.execute()
        try:
            anchor, cut = Anchor.parse(raw_anchor), audit.Checkpoint.parse(raw_cut)
            due = self._target(audit.Head.parse(raw_head), anchor, _start(anchor, cut), first)
        except (AnchorError, audit.CheckpointError):
            due = 1  # the transaction reads them again and reports what is wrong
        if due is None:  # the common case costs one round trip and no transaction
            return None
        plan = await self._transactions.run([ANCHOR_KEY, AUDIT_CHECKPOINT_KEY], self._plan, _write)
        if plan.problem is not None:
            log.warning("audit_checkpoint_refused", problem=plan.problem)
        if plan.checkpoint is None:
            return None
        log.info("audit_checkpoint_signed", count=plan.checkpoint.count, hash=plan.checkpoint.hash)
        if self._file is not None:
            await self._to_file(plan.checkpoint)
        return plan.checkpoint

    def _target(
        self, head: audit.Head, anchor: Anchor | None, start: _Start, first: list[Any]
    ) -> int | None:
        """The count the next checkpoint pins, or None when none is due: the next multiple of
        `every` past the last checkpoint (and the retention cut), once the log reaches it;
        else the head, when `interval` has passed since the last checkpoint (or since the
        oldest entry) and entries came after it."""
        multiple = (start.count // self._every + 1) * self._every
        if head.count >= multiple:
            return multiple
        logged = start.count if anchor is None else max(anchor.logged, start.count)
        if head.count <= logged:
            return None
        if anchor is not None:
            since = datetime.fromisoformat(anchor.checkpoint.claim.at.replace("Z", "+00:00"))
        elif first:
            since = datetime.fromtimestamp(_milliseconds(first[0][0]) / 1000, UTC)
        else:
            return None
        return head.count if self._clock() - since >= self._interval else None

    async def _plan(self, pipe: Any) -> _Plan:
        """Inside the WATCH: decide the count, check the entries since the last checkpoint
        chain from it, and sign."""
        raw_head, raw_anchor, raw_cut = (
            await pipe.get(AUDIT_HEAD_KEY),
            await pipe.get(ANCHOR_KEY),
            await pipe.get(AUDIT_CHECKPOINT_KEY),
        )
        try:
            anchor = Anchor.parse(raw_anchor)
            cut = audit.Checkpoint.parse(raw_cut)
        except AnchorError:
            return _Plan(problem=f"the anchor {ANCHOR_KEY} cannot be read")
        except audit.CheckpointError:
            return _Plan(problem=f"the retention checkpoint {AUDIT_CHECKPOINT_KEY} cannot be read")
        if anchor is not None and not self._trusted(anchor.checkpoint):
            return _Plan(problem=f"the anchor {ANCHOR_KEY} carries a signature that fails")
        first = await pipe.xrange(AUDIT_KEY, min="-", max="+", count=1)
        start = _start(anchor, cut)
        target = self._target(audit.Head.parse(raw_head), anchor, start, first)
        if target is None or target <= start.count:
            return _Plan()
        low = "-" if start.id is None else "(" + start.id
        rows = audit.as_rows(
            await pipe.xrange(AUDIT_KEY, min=low, max="+", count=target - start.count)
        )
        if len(rows) != target - start.count:
            return _Plan(problem="the audit log holds fewer entries than its head records")
        damage = audit.broken_link(start.hash, rows, checkpoint=start.from_cut)
        if damage is not None:
            return _Plan(problem=f"entry {damage.bad_entry}: {damage.problem}")
        pinned_id, pinned = rows[-1]
        claim = CheckpointClaim.of(count=target, hash=pinned["hash"], at=self._clock())
        return _Plan(self._signer.sign(claim), pinned_id)

    def _trusted(self, checkpoint: SignedCheckpoint) -> bool:
        """A checkpoint of ours must verify; one signed by an earlier key (rotation) is taken
        at its word: the auditor's copy of it is what proves anything."""
        return checkpoint.key_id != self._signer.key_id or self._verifier.valid(checkpoint)

    async def _to_file(self, checkpoint: SignedCheckpoint) -> None:
        """Append to the checkpoint file; a failure is logged (the log and the sinks have it)."""
        line = json.dumps(checkpoint.as_dict(), separators=(",", ":")) + "\n"
        try:
            await asyncio.to_thread(append_line, self._file or Path(), line)
        except OSError as exc:
            log.warning("audit_checkpoint_file_failed", path=str(self._file), problem=str(exc))


def _write(pipe: Any, plan: _Plan, head: audit.Head) -> None:
    """Queue the checkpoint's audit entry and the new anchor in the MULTI."""
    if plan.checkpoint is None:  # pragma: no cover  (Transactions writes only changed plans)
        return
    entries, after = audit.chain(head, [plan.checkpoint.event()])
    audit.queue_append(pipe, entries, after)
    pipe.set(ANCHOR_KEY, Anchor(plan.checkpoint, plan.pinned, after.count).dump())


def _start(anchor: Anchor | None, cut: audit.Checkpoint | None) -> _Start:
    """Sign over the entries after the last checkpoint; after the retention cut when the cut
    lies beyond it (the entry the checkpoint pinned is gone)."""
    if cut is not None and (anchor is None or cut.count > anchor.checkpoint.count):
        return _Start(cut.count, cut.hash, cut.id, from_cut=True)
    if anchor is not None:
        return _Start(anchor.checkpoint.count, anchor.checkpoint.hash, anchor.id)
    return _Start(0, audit.GENESIS, None)


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync it (and the directory, when the file is new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    data = line.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _milliseconds(raw_id: bytes | str) -> int:
    text = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
    return int(text.split("-", 1)[0])

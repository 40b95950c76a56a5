"""The loaded policy set: compiled at start, hot-reloaded on change, last good set kept.

A reload builds a whole new PolicySet and swaps one reference, so a request sees either the
old set or the new one, never a mix. A broken change keeps serving the last good set and
reports every error (logs, `/readyz` detail, metrics). Each load is also an audit event
(core.audit_events): the start-up load, every reload and every refused change, naming the set
in force by its digest and this replica; `watch` writes them to the audit trail.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from app.core.audit_events import (
    LoadedSet,
    ReloadTrigger,
    policy_loaded,
    policy_reload_rejected,
    policy_reloaded,
)
from app.core.policy.compile import compile_policy_set
from app.core.policy.digest import set_changes
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.policy_set import PolicySet
from app.services.audit_queue import PendingAudit
from app.services.policy_files import PolicyDirectoryError, load_sources
from app.services.ports import AuditTrail

log = structlog.get_logger("countersign.policy")


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    """What `/readyz` and the API report about the policies."""

    version: str
    applications: int
    last_reload_ok: bool
    errors: tuple[PolicyError, ...] = ()
    problem: str | None = None
    reloads: int = 0
    failed_reloads: int = 0
    #: SHA-256 of the set in force (core.policy.digest), as the audit log names it.
    digest: str = ""


def replica_name() -> str:
    """How the audit log names this process: host and pid (each replica loads the files)."""
    return f"{socket.gethostname()}/{os.getpid()}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore(_kinds: Sequence[str]) -> None:
    """No metric for audit write failures."""


@dataclass(slots=True)
class PolicyRepository:
    """Owns the current PolicySet for one process. `on_audit_failure` is told the event types
    of every failed audit write (they are kept and written again)."""

    directory: Path
    on_reload: Callable[[bool], None] = lambda _ok: None
    on_audit_failure: Callable[[Sequence[str]], None] = _ignore
    replica: str = field(default_factory=replica_name)
    clock: Callable[[], datetime] = _utc_now
    _current: PolicySet | None = None
    _status: PolicyStatus = field(default_factory=lambda: PolicyStatus("", 0, False))
    _fingerprint: str = ""
    _loaded: LoadedSet = field(default_factory=lambda: LoadedSet("", "", 0))
    #: The last refusal audited (files fingerprint, problem, codes): not audited again each tick.
    _refused: tuple[str, str, tuple[str, ...]] | None = None
    _audit: PendingAudit = field(init=False)

    def __post_init__(self) -> None:
        self._audit = PendingAudit(on_failure=self.on_audit_failure)

    def load(self) -> PolicySet:
        """Compile the directory now; raise PolicyCompileError (start-up refuses a bad set)."""
        fingerprint = self._scan()
        policy_set = compile_policy_set(load_sources(self.directory))
        self._swap(policy_set, fingerprint)
        self._audit.add(policy_loaded(self._loaded, replica=self.replica, at=self.clock()))
        return policy_set

    @property
    def current(self) -> PolicySet:
        """The set to decide with. Raises if nothing was ever loaded (never an empty allow)."""
        current = self._current
        if current is None:
            raise RuntimeError("no policy set loaded")
        return current

    @property
    def status(self) -> PolicyStatus:
        """The latest load or reload outcome."""
        return self._status

    @property
    def unrecorded(self) -> int:
        """How many audit events wait for the audit trail."""
        return len(self._audit)

    def reload_if_changed(self) -> bool:
        """Recompile when a file changed; keep the last good set on failure. True if swapped."""
        try:
            fingerprint = self._scan()
        except OSError as exc:
            problem = f"cannot read {self.directory}: {exc.strerror or exc}"
            self._failed((), problem)
            self._refuse("", (), problem)
            return False
        if fingerprint == self._fingerprint:
            return False
        try:
            policy_set = compile_policy_set(load_sources(self.directory))
        except PolicyCompileError as exc:
            self._fingerprint = fingerprint  # do not recompile the same broken files every tick
            problem = f"{len(exc.errors)} policy error(s)"
            self._failed(exc.errors, problem)
            self._refuse(fingerprint, exc.errors, problem)
            return False
        except Exception as exc:  # an unreadable tree must not stop the reload loop
            self._fingerprint = fingerprint
            self._failed((), str(exc))
            located = (exc.as_error(),) if isinstance(exc, PolicyDirectoryError) else ()
            self._refuse(fingerprint, located, str(exc))
            return False
        previous, before = self._loaded, self._current or PolicySet.of([])
        self._swap(policy_set, fingerprint)
        log.info(
            "policy_reloaded",
            version=self._status.version,
            applications=len(policy_set.applications),
        )
        self._audit.add(
            policy_reloaded(
                self._loaded,
                previous=previous,
                changes=set_changes(before, policy_set),
                trigger=ReloadTrigger.FILE_CHANGE,
                replica=self.replica,
                at=self.clock(),
            )
        )
        self.on_reload(True)
        return True

    async def watch(
        self, interval: float, *, reload: bool = True, trail: AuditTrail | None = None
    ) -> None:
        """Check the files every `interval` seconds (when `reload`) and write the audit events
        of loads and reloads to `trail`, the start-up load first; a failed write is tried again
        every `interval` and never holds up a reload. Runs until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            if trail is not None:
                tasks.create_task(self._audit.record_forever(trail, retry=interval))
            if reload:
                tasks.create_task(self._poll(interval))

    async def record_audit(self, trail: AuditTrail) -> bool:
        """Write the waiting audit events to `trail` now; True when none is left (a failure
        is logged and counted, never raised)."""
        return await self._audit.record(trail)

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload_if_changed)

    def _swap(self, policy_set: PolicySet, fingerprint: str) -> None:
        previous = self._status
        self._current = policy_set
        self._fingerprint = fingerprint
        self._loaded = LoadedSet.of(policy_set, version=fingerprint[:12])
        self._refused = None
        self._status = PolicyStatus(
            version=fingerprint[:12],
            applications=len(policy_set.applications),
            last_reload_ok=True,
            reloads=previous.reloads + (1 if previous.version else 0),
            failed_reloads=previous.failed_reloads,
            digest=self._loaded.digest,
        )

    def _failed(self, errors: tuple[PolicyError, ...], problem: str) -> None:
        previous = self._status
        self._status = PolicyStatus(
            version=previous.version,
            applications=previous.applications,
            last_reload_ok=False,
            errors=errors,
            problem=problem,
            reloads=previous.reloads,
            failed_reloads=previous.failed_reloads + 1,
            digest=previous.digest,
        )
        log.error("policy_reload_failed", problem=problem, kept_version=previous.version)
        for error in errors:
            log.error("policy_error", error=str(error), code=error.code)
        self.on_reload(False)

    def _refuse(self, fingerprint: str, errors: Sequence[PolicyError], problem: str) -> None:
        """Audit a refused change, once: the same refusal seen again (a file that cannot be
        read fails every check, tick after tick) is not a new attempt."""
        codes = tuple(sorted({str(error.code) for error in errors}))
        refusal = (fingerprint, problem, codes)
        if refusal == self._refused:
            return
        self._refused = refusal
        event = policy_reload_rejected(
            self._loaded,
            errors=errors,
            problem=problem,
            trigger=ReloadTrigger.FILE_CHANGE,
            replica=self.replica,
            at=self.clock(),
        )
        self._audit.add(event)

    def _scan(self) -> str:
        """A fingerprint of every file's name, size and mtime (cheap; contents on change only)."""
        digest = hashlib.sha256()
        for root, dirs, files in os.walk(self.directory / "apps"):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith((".yaml", ".yml")):
                    continue
                stat = os.stat(os.path.join(root, name))
                digest.update(f"{root}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

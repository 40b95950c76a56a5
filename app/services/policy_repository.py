"""The loaded policy set: compiled at start, hot-reloaded on change, last good set kept.

A reload builds a whole new PolicySet and swaps one reference, so a request sees either the
old set or the new one, never a mix. A broken change keeps serving the last good set and
reports every error (logs, `/readyz` detail, metrics).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from app.core.policy.compile import compile_policy_set
from app.core.policy.errors import PolicyCompileError, PolicyError
from app.core.policy.policy_set import PolicySet
from app.services.policy_files import load_sources

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


@dataclass(slots=True)
class PolicyRepository:
    """Owns the current PolicySet for one process."""

    directory: Path
    on_reload: Callable[[bool], None] = lambda _ok: None
    _current: PolicySet | None = None
    _status: PolicyStatus = field(default_factory=lambda: PolicyStatus("", 0, False))
    _fingerprint: str = ""

    def load(self) -> PolicySet:
        """Compile the directory now; raise PolicyCompileError (start-up refuses a bad set)."""
        fingerprint = self._scan()
        policy_set = compile_policy_set(load_sources(self.directory))
        self._swap(policy_set, fingerprint)
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

    def reload_if_changed(self) -> bool:
        """Recompile when a file changed; keep the last good set on failure. True if swapped."""
        try:
            fingerprint = self._scan()
        except OSError as exc:
            self._failed((), f"cannot read {self.directory}: {exc.strerror or exc}")
            return False
        if fingerprint == self._fingerprint:
            return False
        try:
            policy_set = compile_policy_set(load_sources(self.directory))
        except PolicyCompileError as exc:
            self._fingerprint = fingerprint  # do not recompile the same broken files every tick
            self._failed(exc.errors, f"{len(exc.errors)} policy error(s)")
            return False
        except Exception as exc:  # an unreadable tree must not stop the reload loop
            self._fingerprint = fingerprint
            self._failed((), str(exc))
            return False
        self._swap(policy_set, fingerprint)
        log.info(
            "policy_reloaded",
            version=self._status.version,
            applications=len(policy_set.applications),
        )
        self.on_reload(True)
        return True

    async def watch(self, interval: float) -> None:
        """Poll for changes forever (cancel the task to stop)."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload_if_changed)

    def _swap(self, policy_set: PolicySet, fingerprint: str) -> None:
        previous = self._status
        self._current = policy_set
        self._fingerprint = fingerprint
        self._status = PolicyStatus(
            version=fingerprint[:12],
            applications=len(policy_set.applications),
            last_reload_ok=True,
            reloads=previous.reloads + (1 if previous.version else 0),
            failed_reloads=previous.failed_reloads,
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
        )
        log.error("policy_reload_failed", problem=problem, kept_version=previous.version)
        for error in errors:
            log.error("policy_error", error=str(error), code=error.code)
        self.on_reload(False)

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

"""Signed audit checkpoints: the settings of the checkpointer (`AUDIT_CHECKPOINT_*`, ADR 0018).

Checkpoints are on when the key file is set. Every replica runs the checkpointer; Redis makes
sure each checkpoint is signed once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.config import values

#: Where the checkpoint file goes, under COUNTERSIGN_DATA_DIR, when no path is set.
DEFAULT_FILE = "audit-checkpoints.jsonl"

_Row = tuple[str, str | None, str, Callable[[object], Any], str | None, str]
#: (key, default, description, parser, shown default, field of Settings) of each setting, for
#: app.config.spec.
AUDIT_CHECKPOINT_SPECS: tuple[_Row, ...] = (
    (
        "audit_checkpoint_key_file",
        None,
        "PEM Ed25519 private key that signs audit checkpoints (openssl genpkey -algorithm "
        "ed25519); unset turns checkpoints off.",
        values.path,
        None,
        "audit_checkpoints.key_file",
    ),
    (
        "audit_checkpoint_every",
        "1000",
        "Sign a checkpoint each time the audit log has grown by this many entries (once "
        "across all replicas).",
        values.integer(1, 10_000_000),
        None,
        "audit_checkpoints.every",
    ),
    (
        "audit_checkpoint_interval",
        "15m",
        "Also sign one when this long has passed since the last and entries were added.",
        values.duration(),
        None,
        "audit_checkpoints.interval",
    ),
    (
        "audit_checkpoint_file",
        None,
        "JSON lines file each replica appends the checkpoints it signs to (fsynced).",
        values.path,
        f"DATA_DIR/{DEFAULT_FILE}",
        "audit_checkpoints.file",
    ),
)


class AuditCheckpointSettings(BaseModel):
    """The checkpointer: None key file means it is off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_file: Path | None
    every: int
    interval: timedelta
    #: None: DATA_DIR/audit-checkpoints.jsonl.
    file: Path | None

    @property
    def enabled(self) -> bool:
        """Whether this replica signs checkpoints."""
        return self.key_file is not None

    def file_under(self, data_dir: Path) -> Path:
        """The checkpoint file, its default placed under `data_dir`."""
        return self.file if self.file is not None else data_dir / DEFAULT_FILE

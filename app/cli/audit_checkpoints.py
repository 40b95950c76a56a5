"""`countersign audit verify --checkpoints FILE --public-key KEY`: prove that the audit log in
Redis extends every signed checkpoint an auditor kept (docs/adr/0018-signed-audit-checkpoints.md).

The hash chain alone cannot catch someone who rewrites every entry and the head consistently;
a checkpoint signed earlier, kept outside Redis, pins the hash the entry at its count must
have. Signatures are checked before Redis is read, with public keys only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.adapters.store import audit
from app.adapters.store.checkpoint_keys import CheckpointKeyError, CheckpointVerifier
from app.core.audit_anchoring import AnchorCheck, AnchorReport
from app.core.audit_checkpoint import CheckpointRecordError, SignedCheckpoint, checkpoint_in


class CheckpointUsageError(ValueError):
    """The options or the files named by them cannot be used (exit 2)."""


class ForgedCheckpointError(ValueError):
    """The checkpoint file holds something that is not a valid signed checkpoint (exit 1)."""


def add_options(verify: argparse.ArgumentParser) -> None:
    """`--checkpoints` and `--public-key` of `audit verify`."""
    verify.add_argument(
        "--checkpoints",
        type=Path,
        metavar="FILE",
        help="JSON lines of signed checkpoints (the checkpoint file, or audit_checkpoint "
        "entries from a sink or an export): the log must extend every one",
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=[],
        dest="public_keys",
        metavar="KEY",
        help="PEM Ed25519 public key the checkpoints are signed with (repeatable: rotated keys)",
    )


@dataclass(frozen=True, slots=True)
class Anchors:
    """Checkpoints whose signatures verified, ready to be matched against a walk of the log."""

    checkpoints: tuple[SignedCheckpoint, ...]

    def check(self) -> AnchorCheck:
        """A fresh matcher for one walk."""
        return AnchorCheck(self.checkpoints)


def load_anchors(checkpoints: Path | None, public_keys: Sequence[Path]) -> Anchors | None:
    """The checkpoints of `checkpoints`, each signature verified by one of `public_keys`; None
    without `--checkpoints`. CheckpointUsageError for bad options or unreadable files,
    ForgedCheckpointError for a line that is malformed or whose signature fails."""
    if checkpoints is None:
        if public_keys:
            raise CheckpointUsageError("--public-key needs --checkpoints")
        return None
    if not public_keys:
        raise CheckpointUsageError("--checkpoints needs --public-key")
    try:
        verifiers = {v.key_id: v for v in map(CheckpointVerifier.from_file, public_keys)}
    except CheckpointKeyError as exc:
        raise CheckpointUsageError(f"--public-key: {exc}") from None
    try:
        lines = checkpoints.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointUsageError(f"--checkpoints: {checkpoints} cannot be read: {exc}") from None
    found: list[SignedCheckpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        checkpoint = _parse(line, f"{checkpoints}:{number}")
        if checkpoint is None:
            continue
        verifier = verifiers.get(checkpoint.key_id)
        if verifier is None or not verifier.valid(checkpoint):
            raise ForgedCheckpointError(
                f"{checkpoints}:{number}: the checkpoint of entry {checkpoint.count} carries a "
                f"signature that no given public key verifies (key id {checkpoint.key_id}): "
                "forged or altered"
            )
        found.append(checkpoint)
    return Anchors(tuple(found))


def _parse(line: str, where: str) -> SignedCheckpoint | None:
    try:
        return checkpoint_in(json.loads(line))
    except ValueError as exc:  # JSONDecodeError and CheckpointRecordError alike
        kind = "not a checkpoint" if isinstance(exc, CheckpointRecordError) else "not JSON"
        raise ForgedCheckpointError(f"{where}: {kind} ({exc})") from None


def observer(check: AnchorCheck) -> Callable[[int, list[audit.Row]], None]:
    """What `audit.verify` calls with each page that chains: every entry's count and hash."""

    def see(before: int, rows: list[audit.Row]) -> None:
        for offset, (_entry_id, fields) in enumerate(rows, start=1):
            check.see(before + offset, fields["hash"])

    return see


def anchored(verdict: audit.Verdict, check: AnchorCheck) -> AnchorReport:
    """The report once `verdict` says the chain itself is intact."""
    cut = verdict.checkpoint
    if cut is not None:
        check.start(trimmed=cut.count, hash=cut.hash)
    trimmed = 0 if cut is None else cut.count
    return check.finish(total=trimmed + verdict.checked)


def outcome(report: AnchorReport, *, intact: str) -> tuple[int, list[str]]:
    """The exit code and the lines to print; `intact` is what the chain check says about the
    log (the retention cut and how many entries verify)."""
    if not report.ok:
        return 1, [failure(report), f"the hash chain itself is consistent: {intact}"]
    return 0, [f"audit log intact: {intact}", success(report)]


def failure(report: AnchorReport) -> str:
    """The one line saying why the log does not extend the checkpoints."""
    if report.rewritten:
        bad = report.rewritten[0]
        return (
            f"audit log rewritten: entry {bad.checkpoint.count} has hash {bad.found}, but the "
            f"checkpoint signed at {bad.checkpoint.claim.at} pins {bad.checkpoint.hash}"
        )
    if report.beyond:
        gone = report.beyond[-1]
        return (
            f"audit log truncated: it holds {report.total} entries, but the checkpoint signed "
            f"at {gone.claim.at} pins entry {gone.count}"
        )
    if report.too_old:
        return (
            f"audit log not anchored: retention trimmed {report.trimmed} entries and every "
            f"checkpoint pins a trimmed one (the newest, entry {report.too_old[-1].count})"
        )
    return "audit log not anchored: the checkpoint file holds no checkpoint"


def success(report: AnchorReport) -> str:
    """The line saying which checkpoints the log extends and what they cover."""
    covering, newest = report.covering, report.newest
    if covering is None or newest is None:  # not ok: no success to tell
        return failure(report)
    matched = len(report.matched)
    parts = [
        f"anchored: the log extends {matched} signed "
        f"{'checkpoint' if matched == 1 else 'checkpoints'}"
    ]
    if report.trimmed:
        parts.append(
            f"{_entries(report.trimmed)} trimmed by retention; the kept log from entry "
            f"{report.trimmed + 1} is pinned by the checkpoint of entry {covering.count} "
            f"signed at {covering.claim.at}"
        )
    if report.too_old:
        parts.append(f"{len(report.too_old)} pinned only trimmed entries")
    unanchored = report.total - newest.count
    parts.append(
        f"the newest pins entry {newest.count} of {report.total}"
        + (f" ({_entries(unanchored)} after it not yet anchored)" if unanchored else "")
    )
    return "; ".join(parts)


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"

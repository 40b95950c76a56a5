"""Signed audit checkpoints in tests: Ed25519 key files, a checkpointer over a client (a
"replica"), entries to checkpoint, and the attacks the checkpoints are there to catch: the
whole chain rewritten consistently, the newest entries cut off with the head moved back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.adapters.store import audit
from app.adapters.store.checkpoint_keys import CheckpointSigner
from app.adapters.store.checkpoints import Checkpointer
from app.adapters.store.durability import DurableWrites
from app.adapters.store.keys import AUDIT_HEAD_KEY, AUDIT_KEY
from app.adapters.store.redis_workflow import RedisWorkflowStore
from app.adapters.store.transactions import Transactions
from app.config.settings import Durability
from app.core.approvals import Event, EventType
from app.core.audit_checkpoint import EVENT_TYPE
from tests.support.workflow import RETENTION, Clock

LONG = timedelta(days=1)


def key_pair(directory: Path, name: str = "checkpoint") -> tuple[Path, Path]:
    """A fresh Ed25519 private key and its public key, as PEM files: (private, public)."""
    key = Ed25519PrivateKey.generate()
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def replica(
    client: Any,
    key: Path,
    *,
    every: int,
    file: Path | None = None,
    interval: timedelta = LONG,
    clock: Clock | None = None,
) -> Checkpointer:
    """The checkpointer one replica runs over `client`, signing with the key file `key`."""
    durable = DurableWrites(client, Durability("fsync"))
    return Checkpointer(
        client,
        signer=CheckpointSigner.from_file(key),
        every=every,
        interval=interval,
        file=file,
        transactions=Transactions(client, durable=durable, redis_timeout=0.25),
        clock=clock or Clock(),
    )


async def append(client: Any, n: int, *, tag: str = "entry") -> None:
    """`n` audit entries (a policy set loaded), one transaction each."""
    store = RedisWorkflowStore(client, retention=RETENTION)
    for i in range(n):
        event = Event(
            EventType.POLICY_LOADED,
            datetime.now(UTC),
            "",
            "",
            data={"digest": f"{tag}-{i}", "replica": "r1"},
        )
        await store.append_audit([event])


async def logged_checkpoints(client: Any) -> list[dict[str, Any]]:
    """The `data` of every audit_checkpoint entry in the log, oldest first."""
    found = []
    async for _, fields in audit.entries(client):
        event = json.loads(fields["event"])
        if event["type"] == EVENT_TYPE:
            found.append(event["data"])
    return found


async def head(client: Any) -> audit.Head:
    """The audit head as Redis holds it."""
    return audit.Head.parse(await client.get(AUDIT_HEAD_KEY))


async def rewrite_history(client: Any) -> None:
    """The attack the chain alone cannot catch: change the oldest kept entry's event, then
    recompute every hash after it and the head, keeping every id and the count."""
    rows = [row async for row in audit.entries(client)]
    prev = rows[0][1]["prev"]
    await client.delete(AUDIT_KEY)
    for index, (entry_id, fields) in enumerate(rows):
        event = json.loads(fields["event"])
        if index == 0:
            event["data"] = {**event["data"], "digest": "forged"}
        text = audit.canonical(event)
        digest = audit.entry_hash(prev, text)
        await client.xadd(AUDIT_KEY, {"event": text, "prev": prev, "hash": digest}, id=entry_id)
        prev = digest
    current = await head(client)
    await client.set(AUDIT_HEAD_KEY, audit.Head(prev, current.count).dump())


async def cut_newest(client: Any, n: int) -> None:
    """The other attack: delete the newest `n` entries and move the head back to match."""
    rows = [row async for row in audit.entries(client)]
    for entry_id, _ in rows[-n:]:
        await client.xdel(AUDIT_KEY, entry_id)
    current = await head(client)
    await client.set(AUDIT_HEAD_KEY, audit.Head(rows[-n - 1][1]["hash"], current.count - n).dump())

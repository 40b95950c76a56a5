"""`countersign audit verify --checkpoints FILE --public-key KEY` against a real Redis: a log that
extends every signed checkpoint passes; a history rewritten consistently (which the chain alone
cannot see), a forged checkpoint and a truncated log fail; after retention, verify says what was
trimmed and which checkpoint covers the kept log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.adapters.store import audit
from app.adapters.store.retention import trim_audit_before
from app.cli import main
from tests.support.audit_checkpoints import append, cut_newest, key_pair, replica, rewrite_history
from tests.support.redis_server import RedisServer, RedisServerFactory
from tests.support.workflow import Clock

Tamper = Callable[[Any], Awaitable[None]]


@pytest.fixture(scope="module")
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """One Redis for this module; every test empties it first."""
    return redis_server_factory()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    """The checkpoint key pair: (private, public)."""
    return key_pair(tmp_path)


def thirteen_entries(
    url: str, key: Path, file: Path, tamper: Tamper | None = None
) -> list[dict[str, Any]]:
    """Entries 1-5, the checkpoint of entry 5 (entry 6), 7-10, the checkpoint of entry 10
    (entry 11), then 12 and 13; checkpoints (N=5) go to `file`. Then `tamper`. The checkpoints."""

    async def go() -> None:
        client = Redis.from_url(url)
        try:
            await client.flushdb()
            checkpointer = replica(client, key, every=5, file=file)
            await append(client, 5)
            await checkpointer.catch_up()
            await append(client, 4)
            await checkpointer.catch_up()
            await append(client, 2)
            if tamper is not None:
                await tamper(client)
        finally:
            await client.aclose()

    asyncio.run(go())
    return [json.loads(line) for line in file.read_text().splitlines()]


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """`countersign ARGV` in-process: exit code, stdout, stderr."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def verify(
    capsys: pytest.CaptureFixture[str], url: str, file: Path | None, public: Path
) -> tuple[int, str, str]:
    """`audit verify`, with the checkpoints of `file` unless None."""
    anchors = () if file is None else ("--checkpoints", file, "--public-key", public)
    return run(capsys, "audit", "verify", "--redis-url", url, *anchors)


def test_a_log_that_extends_every_checkpoint_verifies(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both checkpoints match: exit 0, the chain line, then what the checkpoints anchor."""
    file = tmp_path / "checkpoints.jsonl"
    thirteen_entries(server.url, keys[0], file)
    assert verify(capsys, server.url, file, keys[1]) == (
        0,
        "audit log intact: 13 entries\n"
        "anchored: the log extends 2 signed checkpoints; the newest pins entry 10 of 13 "
        "(3 entries after it not yet anchored)\n",
        "",
    )


def test_a_history_rewritten_consistently_passes_the_chain_but_fails_the_checkpoints(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every entry and the head rewritten to match: `audit verify` alone says intact; with the
    checkpoints it exits 1 naming the first entry whose hash is not the signed one."""
    file = tmp_path / "checkpoints.jsonl"
    checkpoints = thirteen_entries(server.url, keys[0], file, tamper=rewrite_history)
    assert verify(capsys, server.url, None, keys[1]) == (0, "audit log intact: 13 entries\n", "")
    code, out, _ = verify(capsys, server.url, file, keys[1])
    assert code == 1
    first = checkpoints[0]
    assert out.splitlines()[0].startswith("audit log rewritten: entry 5 has hash ")
    assert out.splitlines()[0].endswith(
        f"but the checkpoint signed at {first['at']} pins {first['hash']}"
    )
    assert out.splitlines()[1] == "the hash chain itself is consistent: 13 entries"


def test_a_checkpoint_whose_signature_fails_is_refused_before_redis_is_read(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint line edited to pin another hash: exit 1 naming the line, forged."""
    file = tmp_path / "checkpoints.jsonl"
    checkpoints = thirteen_entries(server.url, keys[0], file)
    checkpoints[1]["hash"] = "0" * 64
    file.write_text("".join(json.dumps(c) + "\n" for c in checkpoints))
    code, out, _ = verify(capsys, server.url, file, keys[1])
    assert (code, out) == (
        1,
        f"checkpoints damaged: {file}:2: the checkpoint of entry 10 carries a signature that "
        f"no given public key verifies (key id {checkpoints[1]['key_id']}): forged or altered\n",
    )


def test_a_checkpoint_signed_with_another_key_is_refused(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checkpoints signed by MALLORY's own key do not verify with Countersign's public key."""
    file = tmp_path / "checkpoints.jsonl"
    mallory, _ = key_pair(tmp_path, "mallory")
    thirteen_entries(server.url, mallory, file)
    code, out, _ = verify(capsys, server.url, file, keys[1])
    assert code == 1
    assert out.startswith(f"checkpoints damaged: {file}:1: the checkpoint of entry 5 carries")


def test_a_truncated_log_fails_against_a_later_checkpoint(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newest five entries deleted and the head moved back: the chain alone is intact, the
    checkpoint of entry 10 says entries are missing."""

    async def cut(client: Any) -> None:
        await cut_newest(client, 5)

    file = tmp_path / "checkpoints.jsonl"
    checkpoints = thirteen_entries(server.url, keys[0], file, tamper=cut)
    assert verify(capsys, server.url, None, keys[1])[:2] == (0, "audit log intact: 8 entries\n")
    code, out, _ = verify(capsys, server.url, file, keys[1])
    assert (code, out.splitlines()[0]) == (
        1,
        f"audit log truncated: it holds 8 entries, but the checkpoint signed at "
        f"{checkpoints[1]['at']} pins entry 10",
    )


def test_after_retention_verify_says_what_was_trimmed_and_which_checkpoint_covers_the_rest(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seven entries trimmed: exit 0; the checkpoint of entry 5 pinned only trimmed entries,
    the one of entry 10 pins the kept log from entry 8."""
    file = tmp_path / "checkpoints.jsonl"
    checkpoints = thirteen_entries(server.url, keys[0], file, tamper=trim_seven)
    code, out, err = verify(capsys, server.url, file, keys[1])
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == (
        "anchored: the log extends 1 signed checkpoint; 7 entries trimmed by retention; the "
        f"kept log from entry 8 is pinned by the checkpoint of entry 10 signed at "
        f"{checkpoints[1]['at']}; 1 pinned only trimmed entries; the newest pins entry 10 of "
        "13 (3 entries after it not yet anchored)"
    )


def test_when_retention_trimmed_every_checkpointed_entry_nothing_is_proven(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the checkpoint of entry 5 kept by the auditor, seven entries trimmed: exit 1."""
    file = tmp_path / "checkpoints.jsonl"
    thirteen_entries(server.url, keys[0], file, tamper=trim_seven)
    file.write_text(file.read_text().splitlines()[0] + "\n")
    code, out, _ = verify(capsys, server.url, file, keys[1])
    assert (code, out.splitlines()[0]) == (
        1,
        "audit log not anchored: retention trimmed 7 entries and every checkpoint pins a "
        "trimmed one (the newest, entry 5)",
    )


def test_the_checkpoint_entries_of_an_earlier_export_serve_as_the_checkpoints(
    server: RedisServer, keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`audit export --type audit_checkpoint`, kept outside Redis, is a checkpoint file too."""
    thirteen_entries(server.url, keys[0], tmp_path / "replica.jsonl")
    code, exported, _ = run(
        capsys, "audit", "export", "--redis-url", server.url, "--type", "audit_checkpoint"
    )
    assert code == 0
    assert len(exported.splitlines()) == 2
    file = tmp_path / "exported.jsonl"
    file.write_text(exported)
    assert verify(capsys, server.url, file, keys[1])[0] == 0


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("--checkpoints", "FILE"), "--checkpoints needs --public-key"),
        (("--public-key", "PUB"), "--public-key needs --checkpoints"),
        (("--checkpoints", "MISSING", "--public-key", "PUB"), "cannot be read"),
        (("--checkpoints", "FILE", "--public-key", "FILE"), "is not a PEM public key"),
    ],
)
def test_unusable_options_exit_2_with_one_line(
    keys: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    problem: str,
) -> None:
    """Options that cannot work stop before Redis is read, with exit 2 and one line."""
    file = tmp_path / "checkpoints.jsonl"
    file.write_text("")
    names = {"FILE": file, "PUB": keys[1], "MISSING": tmp_path / "missing.jsonl"}
    args = [names.get(arg, arg) for arg in argv]
    code, out, err = run(capsys, "audit", "verify", "--redis-url", "redis://127.0.0.1:1", *args)
    assert (code, out) == (2, "")
    assert problem in err
    assert len(err.splitlines()) == 1


async def trim_seven(client: Any) -> None:
    """Retention trims the seven oldest entries."""
    ids = [entry_id async for entry_id, _ in audit.entries(client)]
    assert await trim_audit_before(client, ids[7], now=Clock()()) == 7

"""Policy impact on a recorded log: real nginx in front of a Countersign that captures its
decisions (COUNTERSIGN_DECISION_CAPTURE); the personas' traffic is then replayed through a
changed policy set, by the service's own API and by `countersign policy impact` on the
capture file, and both name the same gains and losses.

Its own Countersign (the capture and the admin group are its settings) and nginx; the
session's backend plays the protected applications.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import components
from tests.support.backend import Backend
from tests.support.countersign import RunningCountersign, start_countersign
from tests.support.gate import Gate
from tests.support.personas import ALICE, BOB, MALLORY, Tokens, mint_tokens
from tests.support.proxies import PUBLIC_HOST, ProxyPool
from tests.support.redis_server import RedisServerFactory

pytestmark = pytest.mark.e2e

POLICY_DIR = Path(__file__).parent / "policies"
#: The proposed change: the admin console passes from admins to engineers, and contractors
#: are kept out of the open application.
CHANGES = {
    "admin.yaml": ("include: [{group: admins}]", "include: [{group: engineers}]"),
    "open.yaml": (
        "policies:\n",
        "policies:\n  - {name: No contractors, action: block, include: [{group: contractors}]}\n",
    ),
}


@pytest.fixture(scope="module")
def impact_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files and logs of this module's processes, and the proposed policy set."""
    root = tmp_path_factory.mktemp("impact")
    proposed = root / "proposed"
    shutil.copytree(POLICY_DIR, proposed)
    for name, (old, new) in CHANGES.items():
        path = proposed / "apps" / name
        text = path.read_text()
        assert old in text, name
        path.write_text(text.replace(old, new, 1))
    return root


@pytest.fixture(scope="module")
def service(
    impact_root: Path, redis_server_factory: RedisServerFactory
) -> Iterator[RunningCountersign]:
    """Countersign capturing every decision, with the e2e policies; BOB's `admins` administer."""
    running = start_countersign(
        impact_root / "countersign",
        redis_url=redis_server_factory().url,
        policy_dir=POLICY_DIR,
        public_url=f"http://{PUBLIC_HOST}",
        extra_env={
            "COUNTERSIGN_DECISION_CAPTURE": str(impact_root / "decisions.jsonl"),
            "COUNTERSIGN_ADMIN_GROUPS": "admins",
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gate(impact_root: Path, service: RunningCountersign, backend: Backend) -> Iterator[Gate]:
    """A client of the shipped nginx configuration in front of the service."""
    pool = ProxyPool(
        impact_root / "proxies", countersign_port=service.port, backend_port=backend.port
    )
    client = Gate(pool.get("nginx"), backend)
    yield client
    client.close()
    pool.stop_all()


@pytest.fixture(scope="module")
def tokens(service: RunningCountersign) -> Tokens:
    """The personas' tokens for this service."""
    return mint_tokens(service)


@pytest.fixture(scope="module")
def recorded(gate: Gate, tokens: Tokens) -> dict[str, int]:
    """The personas' traffic through nginx, and the status each got: BOB and ALICE at the
    admin console (twice for ALICE), ALICE and MALLORY at the open application."""
    statuses = {}
    for name, host, token in (
        ("bob-admin", "admin.example.com", tokens.bob),
        ("alice-admin", "admin.example.com", tokens.alice),
        ("alice-admin-again", "admin.example.com", tokens.alice),
        ("alice-open", "open.example.com", tokens.alice),
        ("mallory-open", "open.example.com", tokens.mallory),
    ):
        statuses[name] = gate.get(host, "/", token=token).status
    return statuses


def ask_the_service(service: RunningCountersign, tokens: Tokens) -> dict[str, Any]:
    """POST /api/v1/policies/impact with the proposed files, as BOB (an admin)."""
    apps = Path(service.env["COUNTERSIGN_DECISION_CAPTURE"]).parent / "proposed" / "apps"
    files = [{"path": f"apps/{p.name}", "text": p.read_text()} for p in sorted(apps.glob("*.yaml"))]
    response = httpx.post(
        f"{service.base_url}/api/v1/policies/impact",
        json={"files": files},
        headers={"Authorization": f"Bearer {tokens.bob}"},
        timeout=30,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def moves(report: dict[str, Any], kind: str) -> set[tuple[str, str, str, int, tuple[str, ...]]]:
    """(application, access before, access after, decisions, example users) of each move."""
    return {
        (
            shift["application"],
            shift["before"]["access"],
            shift["after"]["access"],
            shift["decisions"],
            tuple(sorted(example["user"] for example in shift["examples"])),
        )
        for shift in report[kind]
    }


EXPECTED_GAINS = {("admin", "deny", "allow", 2, (ALICE[0],))}
EXPECTED_LOSSES = {
    ("admin", "allow", "deny", 1, (BOB[0],)),
    ("open", "allow", "deny", 1, (MALLORY[0],)),
}


def test_the_traffic_was_decided_as_the_policies_say(recorded: dict[str, int]) -> None:
    """Before any replay: BOB and ALICE get what the set in force says, through nginx."""
    assert recorded == {
        "bob-admin": 200,
        "alice-admin": 403,
        "alice-admin-again": 403,
        "alice-open": 200,
        "mallory-open": 200,
    }


def test_the_service_replays_its_capture_through_the_proposed_set(
    recorded: dict[str, int], service: RunningCountersign, tokens: Tokens
) -> None:
    """ALICE gains the admin console (two decisions), BOB loses it, MALLORY loses the open
    application; ALICE at the open application is unchanged."""
    assert recorded
    report = ask_the_service(service, tokens)
    assert report["source"] == "capture"
    assert moves(report, "gains") == EXPECTED_GAINS
    assert moves(report, "losses") == EXPECTED_LOSSES
    assert report["unchanged"] >= 1


def test_the_cli_on_the_capture_file_names_the_same_gains_and_losses(
    recorded: dict[str, int], service: RunningCountersign, tokens: Tokens, impact_root: Path
) -> None:
    """`countersign policy impact --json` on the capture file (complete once the service has
    flushed it, which answering the API does) reports what the service reported."""
    assert recorded
    ask_the_service(service, tokens)  # the service flushes its capture before reading it
    capture = impact_root / "decisions.jsonl"
    argv = [
        components.countersign(),
        *("policy", "impact", "--json", "--from", str(POLICY_DIR)),
        *("--to", str(impact_root / "proposed"), "--decisions", str(capture)),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert moves(report, "gains") == EXPECTED_GAINS
    assert moves(report, "losses") == EXPECTED_LOSSES
    assert report["incomplete_records"] == 0
    assert tokens.alice.encode() not in capture.read_bytes()

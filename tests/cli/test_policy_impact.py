"""`countersign policy impact`: decisions recorded by the forward-auth handler, replayed
through the set in force and a proposed one: who gains, who loses, in text and JSON."""

from __future__ import annotations

import gzip
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from app.adapters.observability.capture import CaptureFile
from app.adapters.observability.decision_log import decision_log
from app.cli import main
from tests.adapters.forward_auth.scenario import HEALTH, POLICY, build, call, nginx

#: The proposed set: SRE leads only take the shortcut (BOB is one), engineers no longer need
#: an approval, and the health endpoint is no longer open to anonymous callers.
PROPOSED = (
    POLICY.replace("name: SRE\n", "name: SRE leads\n")
    .replace("include: [{group: sre}]", "include: [{group: sre-leads}]")
    .replace(
        "    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}\n",
        "",
    )
)
CLOSED_HEALTH = HEALTH.replace("action: bypass", "action: allow")


def write_set(directory: Path, grafana: str, health: str) -> Path:
    """A policy directory with these two application files."""
    (directory / "apps").mkdir(parents=True)
    (directory / "apps" / "grafana.yaml").write_text(grafana)
    (directory / "apps" / "health.yaml").write_text(health)
    return directory


@pytest.fixture(name="recorded", scope="module")
def recorded_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capture of seven checks through the nginx flavour: ALICE thrice, BOB and MALLORY
    once, and two anonymous health probes."""
    path = tmp_path_factory.mktemp("capture") / "decisions.jsonl"
    decision_log.configure(None, min_level=logging.INFO, capture=CaptureFile(path))
    try:
        handler, _, _ = build()
        for target, token in (
            ("/d/1", "alice-token"),
            ("/d/2", "alice-token"),
            ("/explore", "alice-token"),
            ("/d/1", "bob-token"),
            ("/d/1", "mallory-token"),
            ("/healthz", None),
            ("/healthz", None),
        ):
            call(handler, "/auth/nginx", nginx(f"https://grafana.example.com{target}", token))
        decision_log.flush()
    finally:
        decision_log.configure(None, min_level=logging.INFO)
    return path


@pytest.fixture(name="sets")
def sets_fixture(tmp_path: Path) -> tuple[Path, Path]:
    """The set in force (the scenario's) and the proposed one."""
    return (
        write_set(tmp_path / "old", POLICY, HEALTH),
        write_set(tmp_path / "new", PROPOSED, CLOSED_HEALTH),
    )


def impact(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], *args: str
) -> tuple[int, str, str]:
    """Run the command with --from/--to the two sets."""
    code = main(["policy", "impact", "--from", str(sets[0]), "--to", str(sets[1]), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], *args: str) -> Any:
    code, out, err = impact(capsys, sets, "--json", *args)
    assert (code, err) == (0, "")
    return json.loads(out)


def test_json_names_who_gains_who_loses_and_who_moves(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], recorded: Path
) -> None:
    """ALICE gains (approval → allow, three decisions), anonymous probes lose the health
    endpoint, BOB is allowed by the renamed policy, MALLORY is unchanged."""
    report = as_json(capsys, sets, "--decisions", str(recorded))
    assert (report["decisions"], report["unchanged"]) == (7, 1)
    (gain,) = report["gains"]
    assert gain["application"] == "grafana"
    assert (gain["before"]["access"], gain["after"]["access"]) == ("approval", "allow")
    assert (gain["after"]["policy"], gain["decisions"], gain["people"]) == (
        "Engineers with approval",
        3,
        1,
    )
    assert gain["examples"][0]["user"] == "alice@example.com"
    (loss,) = report["losses"]
    assert (loss["application"], loss["decisions"]) == ("health", 2)
    assert (loss["before"]["reason"], loss["after"]["effect"]) == (
        "policy-bypass",
        "unauthenticated",
    )
    (moved,) = report["changed"]
    assert (moved["before"]["policy"], moved["after"]["policy"]) == ("SRE", "SRE leads")


def test_text_lists_each_move_with_an_example(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], recorded: Path
) -> None:
    """The person-readable report: a summary, then gains, losses and moves with examples."""
    code, out, _ = impact(capsys, sets, "--decisions", str(recorded))
    assert code == 0
    assert out.startswith("Replayed 7 decisions (")
    assert "Gain access: 1\n  + grafana: approval (approval-required" in out
    assert '-> allow (policy-allow by "Engineers with approval"): 3 decisions, 1 person' in out
    assert "e.g. alice@example.com GET grafana.example.com/d/1" in out
    assert "Lose access: 1\n  - health: allow (policy-bypass" in out
    assert "Unchanged: 1 decisions" in out


def test_fail_on_losses_exits_3_for_ci(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], recorded: Path
) -> None:
    """`--fail-on losses` turns a loss into exit 3 (a CI job fails); the report still prints."""
    code, out, _ = impact(capsys, sets, "--decisions", str(recorded), "--fail-on", "losses")
    assert code == 3
    assert "Lose access: 1" in out


def test_fail_on_passes_when_nothing_moves(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], recorded: Path
) -> None:
    """The set in force compared with itself changes nothing: exit 0 even with --fail-on any."""
    code, out, _ = impact(
        capsys, (sets[0], sets[0]), "--decisions", str(recorded), "--fail-on", "any"
    )
    assert code == 0
    assert "Unchanged: 7 decisions" in out


def test_gzip_files_and_standard_input_are_read(
    capsys: pytest.CaptureFixture[str],
    sets: tuple[Path, Path],
    recorded: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rotated `.gz` log and `-` (standard input) count like any file: twice the records."""
    packed = tmp_path / "decisions.jsonl.gz"
    packed.write_bytes(gzip.compress(recorded.read_bytes()))
    stdin = io.TextIOWrapper(io.BytesIO(recorded.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    report = as_json(capsys, sets, "--decisions", str(packed), "-")
    assert report["decisions"] == 14
    assert report["gains"][0]["decisions"] == 6


def test_a_proposed_set_that_does_not_compile_is_exit_1_with_its_errors(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], recorded: Path
) -> None:
    """Every located compile error on stderr, and no report."""
    (sets[1] / "apps" / "grafana.yaml").write_text(PROPOSED.replace("group:", "grup:", 1))
    code, out, err = impact(capsys, sets, "--decisions", str(recorded))
    assert (code, out) == (1, "")
    assert "grafana.yaml:" in err
    assert "unknown selector 'grup'" in err


def test_a_missing_decisions_file_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], sets: tuple[Path, Path], tmp_path: Path
) -> None:
    """No traceback: the file and why."""
    code, out, err = impact(capsys, sets, "--decisions", str(tmp_path / "nope.jsonl"))
    assert (code, out) == (1, "")
    assert err.strip().endswith("nope.jsonl: cannot read: No such file or directory")

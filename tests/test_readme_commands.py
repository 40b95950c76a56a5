"""Every ```sh block of the README runs as written after `make run` (`make readme-check`).

The blocks run as a reader runs them, in the README's order, from a scratch copy of the
project's layout (`.venv`, `policy_rules/`, `deploy/` and `tests/` linked, its own `var/`), on
the README's own ports: a port already taken fails the check with its number, it is never
moved. How a block is read:

- A line that starts a server for good runs in the background, as in another terminal: `make
  run`, `make demo-nginx`, a command whose comment names its terminal (`# terminal 2`, `#
  another terminal`), or one ending in `&`. It is waited for, never slept on: `make run` until
  `/readyz` answers 200, `make demo-nginx` until nginx (:8000) and the sample application
  (:9000) listen, any other until the port it names (`--port N`, `HOST:N`) listens. Variables
  set or exported before the first such line are set in every terminal.
- The rest of the block runs in order in one `bash -euo pipefail` and must exit 0; a `curl -i`
  followed by a comment `#   NNN...` must get HTTP status NNN.
- A block that starts no `make run` of its own runs beside a plain `make run`.
- `make run` is what the Makefile runs (`.venv/bin/countersign serve --dev`), `make demo-nginx`
  is `deploy/nginx/run-demo.sh`, and `make install` does nothing here (this runs from an
  installed `.venv`).
- `<!-- readme-check: skip (why) -->` on the line before a fence skips that block. Only for what
  cannot run unattended (a browser window, the whole test suite); the reason is required.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import components
from tests.support.ports import is_listening
from tests.support.procs import ManagedProcess, http_status

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: What the scratch copy links to: the installed virtualenv, the policies and configurations
#: the blocks name, and the sample application `make demo-nginx` serves.
LINKED = (".venv", "policy_rules", "deploy", "tests")
SERVICE_PORT = 8080
START_TIMEOUT = 30.0
BLOCK_TIMEOUT = 60.0

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
_SKIP = re.compile(r"^\s*<!--\s*readme-check:\s*skip\s*\((?P<why>[^)]+)\)\s*-->\s*$")
_TERMINAL = re.compile(r"\b(?:terminal \d+|another terminal)\b")
_STATUS = re.compile(r"^#\s+(?P<status>\d{3})(?!\d)")
_ASSIGNMENTS = r"(?P<env>(?:[A-Za-z_]\w*=\S*\s+)*)"
_MAKE = re.compile(rf"^{_ASSIGNMENTS}make\s+(?P<target>[\w-]+)(?P<rest>.*)$")
_SETS = re.compile(r"^(?:export\s+)?[A-Za-z_]\w*=")
_PORTS = re.compile(r"(?:--port[= ]|:)(\d{2,5})\b")
_HTTP_STATUS = re.compile(rb"^HTTP/[\d.]+ (\d{3})")

#: `make TARGET` as the checker runs it; the Makefile's own recipe needs nothing installed.
MAKE_TARGETS = {
    "run": "COUNTERSIGN_DEV=${COUNTERSIGN_DEV:-1} .venv/bin/countersign serve --dev",
    "demo-nginx": "deploy/nginx/run-demo.sh",
    "install": ":",
}


@dataclass
class Block:
    """One ```sh block: where it starts in the README, its lines, and why it is skipped."""

    line: int
    lines: list[str]
    skip: str | None = None


@dataclass
class Command:
    """One logical command (continuation lines joined) and its trailing comment."""

    code: str
    comment: str
    line: int

    @property
    def comment_only(self) -> bool:
        return not self.code and bool(self.comment)


@dataclass
class Background:
    """A server the block starts in another terminal, and how to tell it is ready."""

    command: str
    line: int
    ports: list[int]
    readyz: int | None = None


@dataclass
class Plan:
    """What the checker does with a block."""

    background: list[Background] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)  # variables set before the first server
    statuses: dict[int, int] = field(default_factory=dict)  # curl number -> expected status

    @property
    def own_service(self) -> bool:
        return any(server.readyz is not None for server in self.background)


# -- reading the README ------------------------------------------------------------------------


def sh_blocks(markdown: str) -> list[Block]:
    """The ```sh blocks, indented ones (inside a list) included, with their skip notes."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or not opening["lang"]:
            index += 1
            continue
        indent, start = len(opening["indent"]), index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][indent:])
            index += 1
        index += 1
        if opening["lang"] == "sh":
            note = _SKIP.match(lines[start - 1]) if start else None
            blocks.append(Block(start + 1, body, note["why"].strip() if note else None))
    return blocks


def split_comment(line: str) -> tuple[str, str]:
    """The code and the `# comment` of a shell line (a `#` inside quotes is code)."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip(), line[position:]
    return line.rstrip(), ""


def commands(block: Block) -> list[Command]:
    """The block's logical commands: backslash continuations joined, comments split off."""
    found: list[Command] = []
    pending = ""
    first = 0
    for offset, raw in enumerate(block.lines):
        code, comment = split_comment(raw)
        if pending:
            code = code.lstrip()
        else:
            first = block.line + 1 + offset
        if code.endswith("\\"):
            pending += code[:-1].rstrip() + " "
            continue
        found.append(Command((pending + code).strip(), comment.strip(), first))
        pending = ""
    return found


def translate_make(code: str, line: int) -> str:
    """`[VAR=value ...] make TARGET` as the checker runs it."""
    match = _MAKE.match(code)
    if match is None:
        return code
    if match["target"] not in MAKE_TARGETS:
        pytest.fail(f"README line {line}: the checker cannot run `make {match['target']}`")
    return f"{match['env']}{MAKE_TARGETS[match['target']]}{match['rest']}"


def plan(block: Block) -> Plan:
    """Split a block into its servers and its script, and find the statuses it promises."""
    steps = commands(block)
    result = Plan()
    curls = 0
    for index, step in enumerate(steps):
        if not step.code:
            result.script.append(step.comment)
            continue
        target = _MAKE.match(step.code)
        make_target = target["target"] if target else None
        code = translate_make(step.code, step.line)
        backgrounded = code.endswith("&") and not code.endswith("&&")
        if backgrounded or make_target in ("run", "demo-nginx") or _TERMINAL.search(step.comment):
            result.background.append(server(code.rstrip("&").strip(), make_target, step.line))
            continue
        result.script.append(code)
        if not result.background and _SETS.match(code):
            result.setup.append(code)
        words = shlex.split(code, comments=False)
        if words and words[0] == "curl":
            curls += 1
            following = steps[index + 1] if index + 1 < len(steps) else None
            status = _STATUS.match(following.comment) if following is not None else None
            if status is not None and following is not None and following.comment_only:
                if not any(_includes_headers(word) for word in words[1:]):
                    pytest.fail(f"README line {step.line}: a status is promised without curl -i")
                result.statuses[curls] = int(status["status"])
    return result


def _includes_headers(word: str) -> bool:
    return word == "--include" or bool(re.fullmatch(r"-[A-Za-z]*i[A-Za-z]*", word))


def server(code: str, make_target: str | None, line: int) -> Background:
    """How to tell that a background command is ready."""
    if make_target == "run":
        port = re.search(r"\bCOUNTERSIGN_PORT=(\d+)", code)
        number = int(port.group(1)) if port else SERVICE_PORT
        return Background(code, line, [number], readyz=number)
    if make_target == "demo-nginx":
        return Background(code, line, [8000, 9000])
    ports = [int(port) for port in _PORTS.findall(code)]
    if not ports:
        pytest.fail(f"README line {line}: cannot tell when `{code}` is ready (name its port)")
    return Background(code, line, ports)


# -- running it --------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """A reader's shell: no COUNTERSIGN_* settings of the test run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_")}


def ensure_free(ports: list[int], line: int) -> None:
    """Fail, naming the port, when something else already listens on one the block needs."""
    for port in ports:
        if is_listening(port):
            pytest.fail(
                f"port {port} is already in use; the README's block at line {line} needs it "
                "(stop what listens there and run the check again)",
                pytrace=False,
            )


class Stage:
    """The scratch copy, the plain `make run` beside blocks that start none, and the servers
    of the block being run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for name in LINKED:
            (directory / name).symlink_to(ROOT / name)
        self.default: ManagedProcess | None = None
        self.started = 0

    def start(self, background: Background, setup: list[str]) -> ManagedProcess:
        """Start one server as a terminal would, with the block's variables."""
        self.started += 1
        prefix = re.match(_ASSIGNMENTS, background.command)
        assert prefix is not None  # the pattern matches the empty string too
        command = f"{prefix['env']}exec {background.command[prefix.end() :]}"
        script = "\n".join([*setup, command])
        return ManagedProcess(
            f"README line {background.line}",
            ["bash", "-euo", "pipefail", "-c", script],
            log_path=self.directory / "logs" / f"{self.started}-line-{background.line}.log",
            env=clean_env(),
            cwd=self.directory,
        )

    def wait_ready(self, process: ManagedProcess, background: Background) -> None:
        """Poll until the server answers: /readyz for Countersign, the ports for the others."""
        if background.readyz is not None:
            port = background.readyz
            process.wait_until(
                lambda: http_status(port, "/readyz") == 200,
                timeout=START_TIMEOUT,
                what=f"answering 200 on /readyz at :{port}",
            )
        for port in background.ports:
            process.wait_for_port(port, timeout=START_TIMEOUT)

    def ensure_default(self, line: int) -> None:
        """A plain `make run`, for the blocks that start no service of their own."""
        if self.default is not None and self.default.alive():
            return
        service = Background(MAKE_TARGETS["run"], line, [SERVICE_PORT], readyz=SERVICE_PORT)
        ensure_free(service.ports, line)
        self.default = self.start(service, [])
        self.wait_ready(self.default, service)

    def stop_default(self) -> None:
        if self.default is not None:
            self.default.stop()
            self.default = None

    def run(self, block: Block) -> None:
        """Run one block; fail with its output and its servers' logs when it does not hold."""
        block_plan = plan(block)
        if block_plan.own_service:
            self.stop_default()
        else:
            self.ensure_default(block.line)
        ensure_free([p for s in block_plan.background for p in s.ports], block.line)
        servers: list[ManagedProcess] = []
        try:
            for background in block_plan.background:
                servers.append(self.start(background, block_plan.setup))
            for process, background in zip(servers, block_plan.background, strict=True):
                self.wait_ready(process, background)
            self.run_script(block, block_plan, servers)
        finally:
            for process in reversed(servers):
                process.stop()

    def run_script(self, block: Block, block_plan: Plan, servers: list[ManagedProcess]) -> None:
        """The block's own commands, in one `bash -euo pipefail`, each curl's answer kept."""
        captures = self.directory / "curl" / f"line-{block.line}"
        captures.mkdir(parents=True)
        # Each curl's output is also kept, numbered in the order the curls run.
        recorder = (
            "__readme_curl=0\n"
            "curl() { __readme_curl=$((__readme_curl + 1)); "
            f'command curl "$@" | tee {shlex.quote(str(captures))}/"$__readme_curl"; }}\n'
        )
        script = self.directory / f"block-{block.line}.sh"
        script.write_text(recorder + "\n".join(block_plan.script) + "\n")
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", str(script)],
            cwd=self.directory,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
        finally:
            _kill_group(process.pid)
        text = output.decode(errors="replace")
        logs = "".join(
            f"\n--- {p.name} (log {p.log_path}):\n{p.log_tail(15)}"
            for p in [*servers, *([self.default] if self.default else [])]
        )
        where = f"README block at line {block.line}"
        assert process.returncode == 0, (
            f"{where} exited {process.returncode}:\n{text[-4000:]}{logs}"
        )
        for number, expected in block_plan.statuses.items():
            answer = (captures / str(number)).read_bytes()
            got = _HTTP_STATUS.match(answer)
            status = int(got.group(1)) if got is not None else None
            assert status == expected, (
                f"{where}: curl #{number} should answer {expected}, got:\n"
                f"{answer[:600].decode(errors='replace')}{logs}"
            )


def _kill_group(pgid: int) -> None:
    """Whatever the block left running (a `&` job) ends with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    """A scratch copy of the project's layout; every server stopped at the end."""
    if shutil.which("curl") is None:
        components.missing("curl", "apt-get install curl")
    components.nginx()
    here = Stage(tmp_path)
    try:
        yield here
    finally:
        here.stop_default()


# -- the tests ---------------------------------------------------------------------------------


def test_every_sh_block_of_the_readme_runs_as_written(stage: Stage) -> None:
    """In the README's order, on one data directory, as after `make run`: every block exits 0
    and every `curl -i` gets the status its comment promises."""
    blocks = sh_blocks(README.read_text("utf-8"))
    ran = [block for block in blocks if block.skip is None]
    assert len(ran) >= 8, [b.line for b in ran]
    for block in ran:
        stage.run(block)


def test_skips_are_few_and_say_why() -> None:
    """Skipping is for what cannot run unattended, and each says so."""
    skipped = [block for block in sh_blocks(README.read_text("utf-8")) if block.skip]
    assert len(skipped) <= 4, [(b.line, b.skip) for b in skipped]
    assert all(len(block.skip or "") >= 10 for block in skipped)


def test_a_block_is_split_into_terminals_and_a_script() -> None:
    """Servers named by terminal go to the background; the rest, with its promised statuses,
    forms the script; variables set first reach every terminal."""
    block = Block(
        1,
        [
            "export SECRET=s",
            "python3 receiver.py --port 9100     # terminal 2",
            "COUNTERSIGN_CONFIG=x.yaml make run  # terminal 1",
            "# terminal 3: ask",
            "curl -i -H 'Host: a#b' \\",
            "     http://127.0.0.1:8000/",
            "#   403: refused",
            "curl -s http://127.0.0.1:8080/",
        ],
    )
    result = plan(block)
    assert [(b.ports, b.readyz) for b in result.background] == [([9100], None), ([8080], 8080)]
    assert result.background[1].command.startswith("COUNTERSIGN_CONFIG=x.yaml COUNTERSIGN_DEV=")
    assert result.statuses == {1: 403}
    assert "curl -i -H 'Host: a#b' http://127.0.0.1:8000/" in result.script
    assert result.setup == ["export SECRET=s"]
    assert result.own_service

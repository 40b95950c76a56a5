"""The core is pure: no environment, no clock, no files, no web/storage/network/logging imports.

An AST scan of app/core that names the file and line of each offence. Aliases are resolved, so
`from os import environ as e; e["X"]` is caught as well as `os.environ["X"]`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "app" / "core"

#: Dotted names whose use reads the environment, the clock or the file system.
FORBIDDEN_NAMES = (
    "os.environ",
    "os.getenv",
    "os.environb",
    "os.getenvb",
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.perf_counter",
    "builtins.open",
    "io.open",
)
FORBIDDEN_MODULES = (
    "fastapi",
    "starlette",
    "redis",
    "httpx",
    "jose",
    "structlog",
    "uvicorn",
    "app.services",
    "app.adapters",
    "app.config",
)


def _contains(dotted: str, pattern: str) -> bool:
    """Whether the segments of `pattern` appear contiguously in `dotted`."""
    return f".{pattern}." in f".{dotted}."


class _Scanner(ast.NodeVisitor):
    def __init__(self, label: str) -> None:
        self.label = label
        self.aliases: dict[str, str] = {"open": "builtins.open"}
        self.findings: list[str] = []

    def _report(self, node: ast.AST, what: str) -> None:
        self.findings.append(f"{self.label}:{getattr(node, 'lineno', 0)}: {what}")

    def _check_module(self, node: ast.AST, module: str) -> None:
        for banned in FORBIDDEN_MODULES:
            if module == banned or module.startswith(banned + "."):
                self._report(node, f"imports {module}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._check_module(node, module)
        for alias in node.names:
            full = f"{module}.{alias.name}"
            self._check_module(node, full)
            self.aliases[alias.asname or alias.name] = full
            if any(full == name for name in FORBIDDEN_NAMES):
                self._report(node, f"imports {full}")

    def _dotted(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.aliases.get(node.id, node.id)
        return ".".join([base, *reversed(parts)])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self._dotted(node)
        if dotted is not None:
            for name in FORBIDDEN_NAMES:
                if _contains(dotted, name) and dotted.endswith(name.rsplit(".", 1)[1]):
                    self._report(node, f"uses {name}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        resolved = self.aliases.get(node.id)
        if resolved in FORBIDDEN_NAMES and isinstance(node.ctx, ast.Load):
            self._report(node, f"uses {resolved}")


def scan(source: str, label: str) -> list[str]:
    """Every purity offence in one module's source, as `label:line: what`."""
    scanner = _Scanner(label)
    scanner.visit(ast.parse(source, filename=label))
    return scanner.findings


def core_modules() -> list[Path]:
    """Every Python file of app/core."""
    return sorted(CORE.rglob("*.py"))


def test_scan_covers_the_whole_core() -> None:
    """The scan sees the evaluator, the compiler and every selector module."""
    names = {p.relative_to(CORE).as_posix() for p in core_modules()}
    assert {"policy/evaluate.py", "policy/compile.py", "selectors/time.py", "paths.py"} <= names


def test_core_reads_no_environment_clock_or_files_and_imports_no_io() -> None:
    """No module of app/core touches the environment, the clock, files or I/O libraries."""
    findings = [
        finding
        for path in core_modules()
        for finding in scan(
            path.read_text(encoding="utf-8"), str(path.relative_to(CORE.parents[1]))
        )
    ]
    assert findings == [], "\n".join(findings)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\nx = os.environ['HOME']\n", "uses os.environ"),
        ("import os\nx = os.environ.get('HOME')\n", "uses os.environ"),
        ("import os\nx = os.getenv('HOME')\n", "uses os.getenv"),
        ("from os import environ as env\nx = env['HOME']\n", "uses os.environ"),
        ("from os import getenv\n", "imports os.getenv"),
        ("import datetime\nx = datetime.datetime.now()\n", "uses datetime.now"),
        ("from datetime import datetime\nx = datetime.utcnow()\n", "uses datetime.utcnow"),
        ("from datetime import datetime as dt\nx = dt.now()\n", "uses datetime.now"),
        ("import time\nx = time.time()\n", "uses time.time"),
        ("import time as t\nx = t.time()\n", "uses time.time"),
        ("from time import time\nx = time()\n", "uses time.time"),
        ("x = open('policy.yaml').read()\n", "uses builtins.open"),
        ("import fastapi\n", "imports fastapi"),
        ("from starlette.requests import Request\n", "imports starlette.requests"),
        ("import redis.asyncio as r\n", "imports redis.asyncio"),
        ("from httpx import AsyncClient\n", "imports httpx"),
        ("from jose import jwt\n", "imports jose"),
        ("import structlog\n", "imports structlog"),
    ],
)
def test_scan_catches_each_forbidden_thing(source: str, expected: str) -> None:
    """The scanner itself works: each forbidden use is reported with its file and line."""
    findings = scan(source, "app/core/example.py")
    assert any(f.startswith("app/core/example.py:") and f.endswith(expected) for f in findings), (
        findings
    )


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import UTC, datetime\nx = datetime(2024, 1, 1, tzinfo=UTC)\n",
        "from app.core.selectors import time\nx = time.compile_time\n",
        "def f(now):\n    return now.astimezone()\n",
        "from zoneinfo import ZoneInfo\nz = ZoneInfo('UTC')\n",
        "import re\nopened = re.compile('open')\n",
    ],
)
def test_scan_allows_pure_code(source: str) -> None:
    """Building datetimes, the `time` selector module and time zones are not offences."""
    assert scan(source, "app/core/example.py") == []

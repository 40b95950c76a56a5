"""The README stays true: the two commands, and every setting with its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.config.spec import SETTINGS_DOC

ROOT = Path(__file__).resolve().parents[1]
README_PATH = ROOT / "README.md"
README = README_PATH.read_text()


def test_readme_names_the_two_commands() -> None:
    """`make run` and `make test` are how a fresh machine starts."""
    assert "make run" in README
    assert "make test" in README


@pytest.mark.parametrize(("name", "default"), [(n, d) for n, d, _ in SETTINGS_DOC])
def test_every_setting_is_listed_with_its_default(name: str, default: str) -> None:
    """Each setting has a README row with its current default."""
    assert f"| `{name}` | `{default}` |" in README


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls `make test`."""
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_FILE_MENTION = re.compile(r"`((?:docs|deploy|bench|openapi|policy_rules)/[\w./-]+\.\w+)`")
_DOCS = [README_PATH, *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", _DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_docs_refer_only_to_files_that_ship(page: Path) -> None:
    """Every relative link and every `docs/...`-style file named in the user docs exists: the
    docs stand alone, without pointers to papers that are not in the project."""
    text = page.read_text("utf-8")
    missing = []
    for target in _LINK.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (page.parent / target).exists():
            missing.append(target)
    missing += [name for name in _FILE_MENTION.findall(text) if not (ROOT / name).exists()]
    assert "DESIGN.md" not in text
    assert not missing, missing

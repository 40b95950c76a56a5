"""The README stays true: the two commands, and every setting with its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import SETTINGS_DOC

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


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

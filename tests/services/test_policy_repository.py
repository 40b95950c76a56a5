"""Hot reload: a good change is swapped in whole; a broken one keeps the last good set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.policy.errors import PolicyCompileError
from app.services.policy_repository import PolicyRepository

GOOD = """
application: {{id: {id}, hosts: [{host}]}}
policies:
  - {{name: everyone, action: allow, include: [{{everyone: true}}]}}
"""


def write(directory: Path, name: str, text: str) -> None:
    path = directory / "apps" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    # mtime granularity: make every write visible to the fingerprint
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def repo(tmp_path: Path) -> PolicyRepository:
    write(tmp_path, "wiki.yaml", GOOD.format(id="wiki", host="wiki.example.com"))
    reloads: list[bool] = []
    repository = PolicyRepository(tmp_path, on_reload=reloads.append)
    repository.load()
    return repository


def test_initial_load_reports_version_and_count(repo: PolicyRepository) -> None:
    """After load the status says how many applications and which version."""
    assert repo.status.applications == 1
    assert repo.status.last_reload_ok
    assert len(repo.status.version) == 12


def test_unchanged_files_are_not_recompiled(repo: PolicyRepository) -> None:
    """No change, no reload."""
    assert repo.reload_if_changed() is False


def test_good_change_is_swapped_in(repo: PolicyRepository) -> None:
    """A new application appears after the reload, and the set object is replaced whole."""
    before = repo.current
    write(repo.directory, "grafana.yaml", GOOD.format(id="grafana", host="grafana.example.com"))
    assert repo.reload_if_changed() is True
    assert repo.current is not before
    assert set(repo.current.applications) == {"wiki", "grafana"}


def test_broken_change_keeps_the_last_good_set_and_reports_every_error(
    repo: PolicyRepository,
) -> None:
    """A typo in a file leaves the running set untouched and is reported with its place."""
    good = repo.current
    write(
        repo.directory,
        "wiki.yaml",
        "application: {id: wiki, hosts: [wiki.example.com]}\n"
        "policies:\n  - {name: x, action: allow, include: [{grup: a}]}\n",
    )
    assert repo.reload_if_changed() is False
    assert repo.current is good
    assert not repo.status.last_reload_ok
    assert repo.status.failed_reloads == 1
    assert [e.code for e in repo.status.errors] == ["policy.unknown_selector"]


def test_fixing_the_file_recovers(repo: PolicyRepository) -> None:
    """After a failed reload, a fixed file is loaded and the status is healthy again."""
    write(repo.directory, "wiki.yaml", "application: [\n")
    repo.reload_if_changed()
    write(repo.directory, "wiki.yaml", GOOD.format(id="wiki2", host="wiki.example.com"))
    assert repo.reload_if_changed() is True
    assert repo.status.last_reload_ok
    assert set(repo.current.applications) == {"wiki2"}


def test_invalid_set_at_start_raises(tmp_path: Path) -> None:
    """The service refuses to start on an invalid policy set."""
    write(tmp_path, "bad.yaml", "policies: []\n")
    with pytest.raises(PolicyCompileError):
        PolicyRepository(tmp_path).load()


def test_nothing_loaded_is_an_error_not_an_empty_allow(tmp_path: Path) -> None:
    """Asking for the current set before any load raises (the service turns that into a deny)."""
    with pytest.raises(RuntimeError):
        _ = PolicyRepository(tmp_path).current

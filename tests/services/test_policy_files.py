"""Reading a policy directory: which files, in what order, named how, and located read errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.policy.errors import PolicyCompileError
from app.core.policy.source import MAX_SOURCE_BYTES
from app.services.policy_files import (
    PolicyDirectoryError,
    display_path,
    load_sources,
    read_sources,
)

APP = "application: {id: a, hosts: [a.example.com]}\npolicies: []\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty policy directory `pol/apps` below the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pol" / "apps").mkdir(parents=True)
    return Path("pol")


def test_files_are_read_sorted_by_path_including_subfolders(policies: Path) -> None:
    """Files below apps/ come back sorted by their path, nested folders included."""
    for name in ("b.yaml", "a.yaml", "team/c.yaml", "0/z.yaml"):
        _write(policies / "apps" / name, APP)
    names = [s.file for s in load_sources(policies)]
    assert names == [
        "pol/apps/0/z.yaml",
        "pol/apps/a.yaml",
        "pol/apps/b.yaml",
        "pol/apps/team/c.yaml",
    ]


def test_yml_files_count_and_other_files_do_not(policies: Path) -> None:
    """`.yml` is read like `.yaml`; README files, backups and hidden files are ignored."""
    _write(policies / "apps" / "a.yml", APP)
    _write(policies / "apps" / "README.md", "# notes")
    _write(policies / "apps" / "a.yaml~", APP)
    _write(policies / "apps" / ".hidden.yaml", APP)
    assert [s.file for s in load_sources(policies)] == ["pol/apps/a.yml"]


def test_source_text_is_the_file_text(policies: Path) -> None:
    """The Source carries the file's text unchanged."""
    _write(policies / "apps" / "a.yaml", APP)
    assert load_sources(policies)[0].text == APP


def test_a_byte_order_mark_is_dropped(policies: Path) -> None:
    """Editors that save a UTF-8 BOM do not break the first key."""
    _write(policies / "apps" / "a.yaml", b"\xef\xbb\xbf" + APP.encode())
    assert load_sources(policies)[0].text == APP


def test_paths_outside_the_working_directory_stay_absolute(tmp_path: Path) -> None:
    """A directory outside the cwd is shown as given, not as a `../..` path."""
    outside = tmp_path / "elsewhere" / "x.yaml"
    assert display_path(outside) == outside.as_posix()


def test_a_missing_directory_is_a_clear_error(policies: Path) -> None:
    """A directory that does not exist raises PolicyDirectoryError naming it."""
    with pytest.raises(PolicyDirectoryError, match="nope: no such policy directory"):
        load_sources(Path("nope"))


def test_a_directory_without_apps_is_a_clear_error(policies: Path) -> None:
    """Pointing at a folder with no apps/ inside (e.g. apps/ itself) says so."""
    with pytest.raises(PolicyDirectoryError, match="no 'apps/' folder"):
        load_sources(policies / "apps")


def test_an_empty_apps_folder_gives_no_sources(policies: Path) -> None:
    """No files is not an error for the loader; the caller decides what that means."""
    assert load_sources(policies) == []


def test_a_file_over_one_megabyte_is_refused(policies: Path) -> None:
    """Large files are refused before they are read into memory."""
    _write(policies / "apps" / "big.yaml", "#" * (MAX_SOURCE_BYTES + 1))
    _, errors = read_sources(policies)
    assert [(e.file, e.code) for e in errors] == [("pol/apps/big.yaml", "yaml.too_large")]


def test_undecodable_utf8_is_located_at_the_bad_byte(policies: Path) -> None:
    """A Latin-1 byte on line 2 is reported at that line and column."""
    _write(policies / "apps" / "a.yaml", b"application:\n  name: caf\xe9\n")
    _, errors = read_sources(policies)
    assert [(e.line, e.column, e.code) for e in errors] == [(2, 12, "files.not_utf8")]


def test_load_sources_raises_every_read_error_at_once(policies: Path) -> None:
    """Two unreadable files give one PolicyCompileError with two located errors."""
    _write(policies / "apps" / "a.yaml", b"\xff\xfe")
    _write(policies / "apps" / "b.yaml", b"ok: \x80")
    with pytest.raises(PolicyCompileError) as caught:
        load_sources(policies)
    assert [e.file for e in caught.value.errors] == ["pol/apps/a.yaml", "pol/apps/b.yaml"]


def test_good_files_are_returned_beside_the_errors(policies: Path) -> None:
    """read_sources keeps the readable files so a check can report their errors too."""
    _write(policies / "apps" / "a.yaml", b"\xff")
    _write(policies / "apps" / "b.yaml", APP)
    sources, errors = read_sources(policies)
    assert [s.file for s in sources] == ["pol/apps/b.yaml"]
    assert len(errors) == 1


def test_a_dangling_symlink_is_an_unreadable_file(policies: Path) -> None:
    """A link to nowhere is reported as unreadable, not raised."""
    os.symlink("missing-target.yaml", policies / "apps" / "gone.yaml")
    _, errors = read_sources(policies)
    assert [e.code for e in errors] == ["files.unreadable"]


def test_a_fifo_is_refused_without_blocking(policies: Path) -> None:
    """A named pipe called *.yaml is reported, never opened (which would hang)."""
    os.mkfifo(policies / "apps" / "pipe.yaml")
    _, errors = read_sources(policies)
    assert [e.code for e in errors] == ["files.not_a_file"]


def test_the_tests_folder_is_read_the_same_way(policies: Path) -> None:
    """read_sources(dir, "tests") reads DIR/tests."""
    _write(policies / "tests" / "t.yaml", "name: t\n")
    sources, errors = read_sources(policies, "tests")
    assert ([s.file for s in sources], errors) == (["pol/tests/t.yaml"], [])

"""`countersign policy check [DIR]`: a one-line summary when valid, every located error when not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
application:
  id: wiki
  hosts: [wiki.example.com]
policies:
  - name: Staff
    action: allow
    include: [{email_domain: example.com}]
"""


@pytest.fixture
def policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`pol/apps/` below a fresh working directory, so errors name `pol/apps/...`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pol" / "apps").mkdir(parents=True)
    return Path("pol")


def _app(policy_dir: Path, name: str, text: str | bytes) -> None:
    path = policy_dir / "apps" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "check", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_the_example_policies_pass(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped policy_rules directory (the default DIR) compiles."""
    monkeypatch.chdir(ROOT)
    code, out, err = _check(capsys)
    assert (code, err) == (0, "")
    assert out.startswith("policy_rules: OK, ")


def test_a_valid_directory_prints_one_summary_line(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Exit 0 and exactly one line counting applications, policies and files."""
    _app(policy_dir, "wiki.yaml", GOOD)
    code, out, _ = _check(capsys, "pol")
    assert code == 0
    assert out == "pol: OK, 1 application with 1 policy in 1 file\n"


def test_a_missing_directory_is_one_error_line(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A DIR that does not exist exits 1 with one line naming it."""
    code, out, err = _check(capsys, "no-such-dir")
    assert (code, out) == (1, "")
    assert err == "no-such-dir:0:0 $: no such policy directory [files.no_directory]\n"


def test_a_directory_without_apps_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Pointing at apps/ itself (a common slip) exits 1 and says what is missing."""
    code, _, err = _check(capsys, "pol/apps")
    assert code == 1
    assert "no 'apps/' folder" in err


def test_a_yaml_syntax_error_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Broken YAML gives file:line:column and the yaml.syntax code."""
    _app(policy_dir, "bad.yaml", "application:\n  id: [unclosed\npolicies: []\n")
    code, _, err = _check(capsys, "pol")
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("pol/apps/bad.yaml:3:")
    assert line.endswith("[yaml.syntax]")


def test_a_file_that_is_not_a_mapping_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A YAML list at the top level is reported at 1:1 with yaml.not_a_mapping."""
    _app(policy_dir, "list.yaml", "- application\n- policies\n")
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/apps/list.yaml:1:1 $: ")
    assert err.rstrip().endswith("[yaml.not_a_mapping]")


def test_a_misspelled_key_is_located_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`polices:` is reported at its own line and column, with the likely key."""
    _app(policy_dir, "typo.yaml", GOOD.replace("policies:", "polices:"))
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert (
        "pol/apps/typo.yaml:4:1 $.polices: unknown key 'polices' in a policy file "
        "(did you mean 'policies'?) [policy.unknown_key]"
    ) in err.splitlines()


def test_a_misspelled_selector_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`grup:` inside include points at the selector with a suggestion."""
    _app(policy_dir, "sel.yaml", GOOD.replace("email_domain: example.com", "grup: sre"))
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert "pol/apps/sel.yaml:7:16 $.policies[0].include[0].grup: unknown selector 'grup'" in err
    assert "(did you mean 'group'?) [policy.unknown_selector]" in err


def test_every_error_of_every_file_is_printed_one_per_line(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Errors in two files are all reported, sorted by file, one per line."""
    _app(policy_dir, "a.yaml", GOOD.replace("action: allow", "action: alow"))
    _app(policy_dir, "b.yaml", "[]\n")
    _app(policy_dir, "c.yaml", GOOD.replace("wiki", "wiki2").replace("name: Staff", "nam: x"))
    code, _, err = _check(capsys, "pol")
    lines = err.splitlines()
    assert code == 1
    assert [line.split(":", 1)[0] for line in lines] == [
        "pol/apps/a.yaml",
        "pol/apps/b.yaml",
        "pol/apps/c.yaml",
        "pol/apps/c.yaml",
    ]


def test_a_binary_file_is_a_located_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Random bytes exit 1 with a located error, never a traceback."""
    _app(policy_dir, "blob.yaml", bytes(range(256)))
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/apps/blob.yaml:2:118 $: the file is not UTF-8 text")


def test_a_file_with_nul_bytes_is_a_located_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Valid UTF-8 with NUL characters is refused by the YAML reader, located."""
    _app(policy_dir, "nul.yaml", b"application:\x00\x00\n")
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/apps/nul.yaml:")
    assert "[yaml.syntax]" in err


def test_an_unreadable_file_is_a_located_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A dangling symlink is reported as unreadable next to the other files' errors."""
    (policy_dir / "apps" / "gone.yaml").symlink_to("nowhere.yaml")
    _app(policy_dir, "wiki.yaml", GOOD)
    code, _, err = _check(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/apps/gone.yaml:1:1 $: cannot read the file")


def test_read_errors_and_compile_errors_are_reported_together(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """One run shows both a non-UTF-8 file and a compile error in another file."""
    _app(policy_dir, "a.yaml", b"id: \xe9\n")
    _app(policy_dir, "b.yaml", GOOD.replace("hosts: [wiki.example.com]", "hosts: []"))
    _, _, err = _check(capsys, "pol")
    codes = [line.rsplit("[", 1)[1] for line in err.splitlines()]
    assert codes == ["files.not_utf8]", "policy.wrong_type]"]


def test_json_output_lists_errors_as_objects(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`--json` prints one object with ok=false and each error's file, line and code."""
    _app(policy_dir, "typo.yaml", GOOD.replace("policies:", "polices:"))
    code, out, _ = _check(capsys, "pol", "--json")
    body = json.loads(out)
    assert (code, body["ok"]) == (1, False)
    assert ("pol/apps/typo.yaml", 4, "policy.unknown_key") in [
        (e["file"], e["line"], e["code"]) for e in body["errors"]
    ]


def test_the_installed_command_checks_the_examples() -> None:
    """The console script exits 0 on policy_rules in a real process."""
    command = Path(sys.executable).parent / "countersign"
    done = subprocess.run(
        [str(command), "policy", "check", "policy_rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("policy_rules: OK")


def test_an_empty_apps_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """No application files means every request would be denied: exit 1 and say so."""
    code, out, err = _check(capsys, "pol")
    assert (code, out) == (1, "")
    assert err.startswith("pol/apps:0:0 $: no application files (*.yaml)")
    assert err.endswith(" [files.no_applications]\n")


def test_a_file_given_as_dir_is_an_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Passing a policy file instead of its directory says it is not a directory."""
    _app(policy_dir, "wiki.yaml", GOOD)
    code, _, err = _check(capsys, "pol/apps/wiki.yaml")
    assert code == 1
    assert err == "pol/apps/wiki.yaml:0:0 $: not a directory [files.no_directory]\n"

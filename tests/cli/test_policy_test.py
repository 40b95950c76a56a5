"""`countersign policy test [DIR]`: operator-written cases with fixtures and a pinned now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.cli.policy import load_policies
from app.services.policy_files import read_sources
from app.services.policy_tests import parse_suites, run_suite

ROOT = Path(__file__).resolve().parents[2]
APP = """\
application: {id: grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE in office hours
    action: allow
    include: [{group: sre}]
    require: [{time: {hours: "09:00-17:00"}}]
  - name: Engineers with approval
    action: allow
    include: [{email_domain: example.com}]
    approval: {approvers: [{group: sre-leads}]}
"""
SUITE = """\
name: tiny
now: "2026-11-24T10:00:00Z"
fixtures:
  bob: {email: bob@example.com, groups: [sre]}
  alice: {email: alice@example.com}
cases:
  - name: bob in office hours
    url: https://grafana.example.com/
    as: bob
    expect: {decision: allow, reasons: [policy-allow, groups-ok, time-ok]}
"""


@pytest.fixture
def policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`pol/` with one application and an empty tests/ folder, below a fresh cwd."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pol" / "apps").mkdir(parents=True)
    (tmp_path / "pol" / "tests").mkdir()
    (tmp_path / "pol" / "apps" / "grafana.yaml").write_text(APP, encoding="utf-8")
    return Path("pol")


def _suite(policy_dir: Path, text: str, name: str = "t.yaml") -> None:
    (policy_dir / "tests" / name).write_text(text, encoding="utf-8")


def _test(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "test", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_the_example_tests_pass(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case under policy_rules/tests passes against policy_rules/apps."""
    monkeypatch.chdir(ROOT)
    code, out, err = _test(capsys)
    assert (code, err) == (0, ""), out
    assert out.splitlines()[-1].endswith("0 failed in 4 files")


@pytest.mark.parametrize("app", ["grafana", "grafana-health", "db-console", "wiki"])
def test_every_example_app_is_covered_by_a_case(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, app: str
) -> None:
    """Each example application is the decided application of at least one passing case."""
    monkeypatch.chdir(ROOT)
    policy_set, _, _ = load_policies("policy_rules")
    assert policy_set is not None
    suites, _ = parse_suites(read_sources("policy_rules", "tests")[0])
    decided = {r.decision.application for s in suites for r in run_suite(policy_set, s)}
    assert app in decided


def test_a_passing_suite_prints_a_summary(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """All cases pass: exit 0 and one summary line."""
    _suite(policy_dir, SUITE)
    code, out, _ = _test(capsys, "pol")
    assert (code, out) == (0, "policy tests: 1 passed, 0 failed in 1 file\n")


def test_verbose_lists_passing_cases(capsys: pytest.CaptureFixture[str], policy_dir: Path) -> None:
    """`-v` adds one `ok` line per passing case."""
    _suite(policy_dir, SUITE)
    _, out, _ = _test(capsys, "pol", "-v")
    assert out.splitlines()[0] == "ok    pol/tests/t.yaml: case bob in office hours"


def test_a_wrong_decision_is_reported_with_file_case_and_reasons(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A failing case names the file and case, the expected and actual decision and reasons."""
    _suite(
        policy_dir,
        SUITE
        + """\
  - name: alice expects too much
    url: https://grafana.example.com/
    as: alice
    expect: {decision: allow}
""",
    )
    code, out, _ = _test(capsys, "pol")
    assert code == 1
    assert (
        "FAIL  pol/tests/t.yaml: case alice expects too much: expected allow, got "
        "needs_approval [approval-required, grant-missing, email-domain-ok]"
    ) in out.splitlines()
    assert out.splitlines()[-1] == "policy tests: 1 passed, 1 failed in 1 file"


def test_a_missing_reason_is_reported(capsys: pytest.CaptureFixture[str], policy_dir: Path) -> None:
    """The right decision with a listed reason absent is a failure naming that reason."""
    _suite(policy_dir, SUITE.replace("time-ok", "ip-ok"))
    code, out, _ = _test(capsys, "pol")
    assert code == 1
    assert "expected reasons [ip-ok], got allow [policy-allow, groups-ok, time-ok]" in out


def test_a_wrong_policy_name_is_reported(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`expect.policy` compares the deciding policy's name."""
    _suite(policy_dir, SUITE.replace("time-ok]}", "time-ok], policy: Other}"))
    _, out, _ = _test(capsys, "pol")
    assert "expected policy 'Other', got 'SRE in office hours'" in out


def test_a_case_may_pin_its_own_now(capsys: pytest.CaptureFixture[str], policy_dir: Path) -> None:
    """A per-case `now` outside office hours sends bob to the approval policy."""
    _suite(
        policy_dir,
        SUITE.replace("    as: bob\n", '    as: bob\n    now: "2026-11-24T20:00:00Z"\n').replace(
            "decision: allow, reasons: [policy-allow, groups-ok, time-ok]",
            "decision: needs_approval",
        ),
    )
    assert _test(capsys, "pol")[0] == 0


def test_grant_and_pending_describe_the_grant_store(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`grant: true`, `expired` and `pending: true` give allow, needs_approval and pending."""
    cases = "".join(
        f"  - {{name: {name}, url: 'https://grafana.example.com/', as: alice, {extra}"
        f"expect: {{decision: {decision}}}}}\n"
        for name, extra, decision in (
            ("granted", "grant: true, ", "allow"),
            ("expired", "grant: expired, ", "needs_approval"),
            ("waiting", "pending: true, ", "pending"),
            ("store down", "grant: unavailable, ", "deny"),
        )
    )
    _suite(policy_dir, SUITE + cases)
    code, out, _ = _test(capsys, "pol")
    assert (code, out.splitlines()[-1]) == (0, "policy tests: 5 passed, 0 failed in 1 file")


def test_an_unknown_key_in_a_test_file_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A misspelled case key is a located error with a suggestion, and exit 1."""
    _suite(policy_dir, SUITE.replace("    expect:", "    expected:"))
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert (
        "pol/tests/t.yaml:10:5 $.cases[0].expected: unknown key 'expected' in a case "
        "(did you mean 'expect'?) [test.unknown_key]"
    ) in err.splitlines()


def test_an_unknown_fixture_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`as:` naming no fixture points at the case with the closest fixture name."""
    _suite(policy_dir, SUITE.replace("as: bob", "as: bobb"))
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert (
        "$.cases[0].as: no fixture named 'bobb' (did you mean 'bob'?) [test.unknown_fixture]" in err
    )


def test_an_unknown_reason_code_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Expecting a reason outside the vocabulary is an error, not a silent failure."""
    _suite(policy_dir, SUITE.replace("time-ok", "time-okay"))
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert "$.cases[0].expect.reasons[2]: unknown reason code 'time-okay'" in err


def test_an_unknown_decision_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """`decision: allowed` suggests `allow`."""
    _suite(policy_dir, SUITE.replace("decision: allow", "decision: allowed"))
    _, _, err = _test(capsys, "pol")
    assert "(did you mean 'allow'?) [test.bad_decision]" in err


def test_a_now_without_a_zone_is_refused(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A pinned now must say its zone; a bare local time is ambiguous."""
    _suite(policy_dir, SUITE.replace('"2026-11-24T10:00:00Z"', '"2026-11-24T10:00:00"'))
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert "pol/tests/t.yaml:2:1 $.now:" in err


def test_a_yaml_syntax_error_in_a_test_file_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Broken YAML in a test file is reported with its place; other files still run."""
    _suite(policy_dir, SUITE, "a.yaml")
    _suite(policy_dir, "cases: [unclosed\n", "b.yaml")
    code, out, err = _test(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/tests/b.yaml:2:")
    assert out.splitlines()[-1] == (
        "policy tests: 1 passed, 0 failed in 1 file; 1 test file could not be read"
    )


def test_a_test_file_that_is_not_a_mapping_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A list at the top of a test file is a located error."""
    _suite(policy_dir, "- a\n- b\n")
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert err.startswith("pol/tests/t.yaml:1:1 $: a policy test file must be a mapping")


def test_a_bad_url_in_a_case_is_located(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A relative URL is reported at the case's url."""
    _suite(policy_dir, SUITE.replace("https://grafana.example.com/", "/just/a/path"))
    _, _, err = _test(capsys, "pol")
    assert "$.cases[0].url: '/just/a/path' is not an absolute http(s) URL [test.bad_url]" in err


def test_a_broken_fixture_is_reported_once(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """A fixture with a bad ip is one error at the fixture, not one per case using it."""
    _suite(policy_dir, SUITE.replace("groups: [sre]}", "groups: [sre], ip: 10.0.0.300}"))
    _, _, err = _test(capsys, "pol")
    assert err.splitlines() == [
        "pol/tests/t.yaml:4:48 $.fixtures.bob.ip: '10.0.0.300' is not an IP address [test.bad_ip]"
    ]


def test_missing_tests_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Without DIR/tests the command exits 1 saying so."""
    shutil.rmtree(policy_dir / "tests")
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert "no 'tests/' folder" in err


def test_an_empty_tests_folder_is_an_error(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Running no tests at all is not a pass."""
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert err == "pol/tests: no policy test files\n"


def test_policies_that_do_not_compile_stop_the_run(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    """Compile errors are printed, located, and no case runs."""
    _suite(policy_dir, SUITE)
    (policy_dir / "apps" / "grafana.yaml").write_text(
        APP.replace("action: allow", "action: permit")
    )
    code, out, err = _test(capsys, "pol")
    assert (code, out) == (1, "")
    assert "[policy.bad_action]" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}\n", "$: a policy test file needs 'now' [test.missing_key]"),
        (SUITE + "  - {}\n", "$.cases[1]: a case needs 'name' [test.missing_key]"),
        (
            SUITE.replace("{decision: allow, reasons: [policy-allow, groups-ok, time-ok]}", "{}"),
            "$.cases[0].expect.decision: decision must be one of",
        ),
        (
            SUITE.replace("alice: {email: alice@example.com}", "alice: {}"),
            "$.fixtures.alice: fixture 'alice' needs 'email' or 'subject'",
        ),
    ],
)
def test_empty_mappings_are_errors_not_silently_skipped(
    capsys: pytest.CaptureFixture[str], policy_dir: Path, text: str, message: str
) -> None:
    """An empty file, case, expectation or fixture is reported, never dropped quietly."""
    _suite(policy_dir, text)
    code, _, err = _test(capsys, "pol")
    assert code == 1
    assert message in err

"""`countersign policy explain`: the decision for one hypothetical request, with its reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-24T10:00:00Z"
GRAFANA = "https://grafana.example.com/d/abc"
BOB = ["--email", "bob@example.com", "--group", "sre", "--group", "sre-leads"]
ALICE = ["--email", "alice@example.com", "--group", "engineering"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root so the default DIR is the example policy_rules."""
    monkeypatch.chdir(ROOT)


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "explain", "--now", NOW, *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = _explain(capsys, "--json", *args)
    assert (code, err) == (0, "")
    body: dict[str, Any] = json.loads(out)
    return body


def test_text_output_names_decision_reasons_application_and_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The header lines say what was decided, why, where and by which policy."""
    code, out, _ = _explain(capsys, "--url", GRAFANA, *BOB, "--device-managed")
    assert code == 0
    assert "decision     allow\n" in out
    assert "reasons      policy-allow, groups-ok, device-ok\n" in out
    assert "application  grafana\n" in out
    assert "policy       SRE on managed devices\n" in out


def test_text_output_has_a_row_per_policy_and_per_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The explain table shows each policy's outcome and each rule's section and result."""
    _, out, _ = _explain(capsys, "--url", GRAFANA, *BOB, "--device-managed", "--country", "RU")
    rows = [" ".join(line.split()) for line in out.splitlines()]
    assert "2. SRE on managed devices allow no exclude-matched" in rows
    # The excluded country is why the policy did not match: its "not allowed" code.
    assert "exclude country: [KP, IR, RU, BY] yes country-not-allowed" in rows
    assert "require device: {managed: true} yes device-ok" in rows
    assert "3. Engineers, second opinion required allow MATCH policy-matched" in rows


def test_json_output_has_the_decision_fields(capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` prints one object with the lowercase effect, reasons, application, policy."""
    body = _json(capsys, "--url", GRAFANA, *ALICE)
    assert body["decision"] == "needs_approval"
    assert body["reasons"] == ["approval-required", "grant-missing", "email-domain-ok"]
    assert (body["application"], body["policy"]) == (
        "grafana",
        "Engineers, second opinion required",
    )


def test_json_output_carries_the_explain_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Each policy appears with its rules, sections and reason codes."""
    body = _json(capsys, "--url", GRAFANA, *ALICE)
    first = body["explain"][0]
    assert (first["policy"], first["matched"], first["reason"]) == (
        "Contractors never",
        False,
        "include-not-matched",
    )
    assert first["rules"] == [
        {
            "section": "include",
            "index": 0,
            "selector": "group: contractors",
            "matched": False,
            # Not in the blocked group: good news for ALICE under a `block` policy.
            "reason": "groups-ok",
        }
    ]


def test_no_email_means_no_identity(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --email the caller is anonymous and asked to sign in."""
    body = _json(capsys, "--url", GRAFANA)
    assert (body["decision"], body["reasons"]) == ("unauthenticated", ["user-unauthenticated"])


def test_grant_flag_means_an_active_grant(capsys: pytest.CaptureFixture[str]) -> None:
    """`--grant` turns the engineer's needs_approval into allow with grant-active."""
    body = _json(capsys, "--url", GRAFANA, *ALICE, "--grant")
    assert body["decision"] == "allow"
    assert body["reasons"][0] == "grant-active"
    assert body["grant_expires_at"] == "2026-11-24T11:00:00Z"


def test_grant_flag_also_counts_as_a_stated_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    """On a justification-only app `--grant` means the reason was given: allow."""
    body = _json(capsys, "--url", "https://wiki.example.com/", *ALICE, "--grant")
    assert (body["decision"], body["reasons"][0]) == ("allow", "justification-active")


def test_justification_only_app_needs_a_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a grant the wiki answers needs_justification."""
    body = _json(capsys, "--url", "https://wiki.example.com/", *ALICE)
    assert body["decision"] == "needs_justification"


def test_pending_flag_means_an_open_request(capsys: pytest.CaptureFixture[str]) -> None:
    """`--pending` on an approval app answers pending."""
    body = _json(capsys, "--url", GRAFANA, *ALICE, "--pending")
    assert body["decision"] == "pending"


def test_public_health_path_is_bypassed(capsys: pytest.CaptureFixture[str]) -> None:
    """The health path answers allow for anyone, from its own application."""
    body = _json(capsys, "--url", "https://grafana.example.com/api/health")
    assert (body["decision"], body["application"]) == ("allow", "grafana-health")


def test_unknown_host_is_denied_and_says_no_application(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unknown host is a deny with application-not-found and an empty table."""
    code, out, _ = _explain(capsys, "--url", "https://jenkins.example.com/", *BOB)
    assert code == 0
    assert "decision     deny\n" in out
    assert "No application serves this host and path" in out


def test_amr_flag_feeds_the_auth_method_selector(capsys: pytest.CaptureFixture[str]) -> None:
    """The database console requires MFA: with --amr mfa the user may ask for approval."""
    url = "https://db-console.example.com/"
    assert _json(capsys, "--url", url, *ALICE)["decision"] == "deny"
    assert _json(capsys, "--url", url, *ALICE, "--amr", "MFA")["decision"] == "needs_approval"


def test_url_is_normalised_before_matching(capsys: pytest.CaptureFixture[str]) -> None:
    """Upper-case host, a port and dot segments resolve like the proxy path would."""
    body = _json(capsys, "--url", "https://GRAFANA.example.com:8443/api/health/../x")
    assert (body["application"], body["request"]["url"]) == (
        "grafana",
        "https://grafana.example.com/api/x",
    )


def test_claims_device_tags_and_ip_reach_the_selectors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--claim (typed), --device-tag and --ip are matched like token and proxy signals."""
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "x.yaml").write_text(
        "application: {id: x, hosts: [x.example.com]}\n"
        "policies:\n"
        "  - name: senior on encrypted disks in the office\n"
        "    action: allow\n"
        "    include: [{claim: {name: level, equals: 3}}]\n"
        "    require: [{device: {tags: [disk-encrypted]}}, {ip: 10.0.0.0/8}]\n",
        encoding="utf-8",
    )
    base = ["--dir", str(tmp_path), "--url", "https://x.example.com/", *ALICE]
    granted = [*base, "--claim", "level=3", "--device-tag", "disk-encrypted", "--ip", "10.1.1.1"]
    assert _json(capsys, *granted)["decision"] == "allow"
    assert _json(capsys, *granted[:-1], "192.0.2.1")["decision"] == "deny"


def test_now_pins_the_time_of_the_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A time-window policy allows at 10:00 and denies at 20:00 (UTC)."""
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "x.yaml").write_text(
        "application: {id: x, hosts: [x.example.com]}\n"
        "policies:\n"
        "  - {name: office hours, action: allow, include: [{time: {hours: '09:00-17:00'}}]}\n",
        encoding="utf-8",
    )
    base = ["--json", "--dir", str(tmp_path), "--url", "https://x.example.com/", *ALICE]
    assert json.loads(_explain(capsys, *base)[1])["decision"] == "allow"
    code = main(["policy", "explain", *base, "--now", "2026-11-24T20:00:00+00:00"])
    assert (code, json.loads(capsys.readouterr().out)["decision"]) == (0, "deny")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--url", "grafana.example.com/d"], "not an absolute http(s) URL"),
        (["--url", "ftp://grafana.example.com/"], "not an absolute http(s) URL"),
        (["--url", "https://grafana.example.com/a%2fb"], "encoded slash"),
        (["--url", "https://bad_host!/"], "not a valid host name"),
        (["--url", GRAFANA, "--ip", "10.0.0.999"], "--ip '10.0.0.999' is not an IPv4 or IPv6"),
        (["--url", GRAFANA, "--now", "tomorrow"], "--now 'tomorrow' is not an ISO 8601 time"),
        (["--url", GRAFANA, "--country", "France"], "not a two-letter country code"),
        (["--url", GRAFANA, "--group", "sre"], "--group describe a user; give --email too"),
        (["--url", GRAFANA, "--email", "bob"], "--email 'bob' is not an email address"),
        ([*ALICE, "--url", GRAFANA, "--claim", "novalue"], "must look like name=value"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    """A flag that cannot describe a request exits 2 with one line saying which and why."""
    code, out, err = _explain(capsys, *flags)
    assert (code, out) == (2, "")
    assert err.startswith("countersign policy explain: error: ")
    assert message in err


def test_broken_policies_exit_1_with_located_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Explaining against a directory that does not compile prints its errors and exits 1."""
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "x.yaml").write_text("application: {id: x}\n", encoding="utf-8")
    code, out, err = _explain(capsys, "--dir", str(tmp_path), "--url", GRAFANA)
    assert (code, out) == (1, "")
    assert "[policy.missing_key]" in err


def test_a_missing_dir_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--dir` pointing nowhere is one error line, not a traceback."""
    code, _, err = _explain(capsys, "--dir", "does-not-exist", "--url", GRAFANA)
    assert code == 1
    assert err == "does-not-exist:0:0 $: no such policy directory [files.no_directory]\n"

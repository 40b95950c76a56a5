"""Replaying decision records: lines fold into distinct inputs by what either set can read,
and every line that is not a replayable decision is counted, never guessed at."""

from __future__ import annotations

from typing import Any

import orjson

from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.services.impact import Tally, replay, report_dict

GRAFANA = """\
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - {name: SRE, action: allow, include: [{group: sre}]}
"""
#: The same set, with SRE allowed in business hours only (Paris time).
GRAFANA_HOURS = """\
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE
    action: allow
    include: [{group: sre}]
    require:
      - {time: {days: [mon, tue, wed, thu, fri], hours: "09:00-18:00", timezone: Europe/Paris}}
"""
#: SRE from France only.
GRAFANA_FRANCE = GRAFANA.replace("[{group: sre}]}", "[{group: sre}], require: [{country: FR}]}")
WIKI = """\
application: {id: wiki, name: Wiki, hosts: [wiki.example.com]}
policies:
  - {name: Everyone, action: allow, include: [{everyone: true}]}
"""


def policies(*texts: str) -> PolicySet:
    """The set of these application documents."""
    return compile_policy_set([Source(f"apps/{i}.yaml", t) for i, t in enumerate(texts)])


def record(**fields: Any) -> dict[str, Any]:
    """A decision record as the service writes it: BOB the SRE reading a Grafana dashboard
    from France on a Monday morning (UTC), unless `fields` says otherwise."""
    base: dict[str, Any] = {
        "request_id": "r1",
        "proxy": "nginx",
        "method": "GET",
        "host": "grafana.example.com",
        "path": "/d/1",
        "client_ip": "198.51.100.7",
        "country": "FR",
        "device_managed": True,
        "device_tags": [],
        "user": "bob@example.com",
        "subject": "u-bob",
        "issuer": "https://idp.example.com",
        "email": "bob@example.com",
        "groups": ["sre"],
        "amr": ["mfa"],
        "claims": {},
        "application": "grafana",
        "policy": "SRE",
        "effect": "allow",
        "reasons": ["policy-allow", "groups-ok"],
        "identity_problem": None,
        "status": 200,
        "latency_ms": 0.2,
        "event": "decision_made",
        "level": "info",
        "timestamp": "2024-05-06T08:00:12.345Z",
    }
    base.update(fields)
    return base


def line(**fields: Any) -> bytes:
    """One decision log line."""
    return orjson.dumps(record(**fields))


def tally_of(before: PolicySet, after: PolicySet, *lines: bytes) -> Tally:
    """The lines folded for these two sets."""
    tally = Tally(before, after)
    tally.add_lines(lines)
    return tally


def test_records_differing_only_in_what_no_selector_reads_fold_into_one_input() -> None:
    """Other paths of the same application, another address and another request id: one
    input seen three times (no selector of either set reads them)."""
    tally = tally_of(
        policies(GRAFANA),
        policies(GRAFANA_FRANCE),
        line(),
        line(path="/d/2", request_id="r2"),
        line(path="/explore", client_ip="203.0.113.9", request_id="r3"),
    )
    assert tally.records == 3
    assert [count for count, _ in tally.inputs.values()] == [3]


def test_a_field_a_selector_reads_tells_records_apart() -> None:
    """With a `country` rule in the new set, BOB from Germany is another input, and only he
    loses access."""
    tally = tally_of(
        policies(GRAFANA), policies(GRAFANA_FRANCE), line(), line(country="DE", request_id="r2")
    )
    assert len(tally.inputs) == 2
    report = report_dict(replay(tally), tally)
    (loss,) = report["losses"]
    assert loss["decisions"] == 1
    assert loss["examples"][0]["request_id"] == "r2"
    assert loss["after"]["reason"] == "no-policy-matched"


def test_times_fold_by_which_time_rules_hold() -> None:
    """Morning records in Paris office hours fold into one input whatever their minute; a
    night record is another, and only it is a loss when the hours rule arrives."""
    tally = tally_of(
        policies(GRAFANA),
        policies(GRAFANA_HOURS),
        line(timestamp="2024-05-06T08:00:12.345Z"),
        line(timestamp="2024-05-06T09:41:00.000Z", request_id="r2"),
        line(timestamp="2024-05-06T21:30:00.000Z", request_id="r3"),
    )
    assert sorted(count for count, _ in tally.inputs.values()) == [1, 2]
    report = report_dict(replay(tally), tally)
    (loss,) = report["losses"]
    assert (loss["decisions"], loss["examples"][0]["at"]) == (1, "2024-05-06T21:30:00.000Z")
    assert report["unchanged"] == 2


def test_people_are_never_folded_together() -> None:
    """Two SRE with the same groups are two inputs: the report counts people."""
    tally = tally_of(
        policies(GRAFANA),
        policies(GRAFANA_FRANCE),
        line(country="DE"),
        line(country="DE", user="carol@example.com", subject="u-carol", email="carol@example.com"),
    )
    (loss,) = report_dict(replay(tally), tally)["losses"]
    assert (loss["decisions"], loss["people"]) == (2, 2)


def test_other_lines_are_ignored_and_old_records_are_incomplete() -> None:
    """A log line of another event, a refused check, the refusal page and a line that is not
    JSON are ignored; a decision line without the recorded inputs is incomplete. Only the
    one full record is replayed."""
    old_format = {k: v for k, v in record().items() if k not in ("subject", "groups", "amr")}
    tally = tally_of(
        policies(GRAFANA),
        policies(GRAFANA),
        b'{"event":"policy_reloaded","level":"info"}',
        orjson.dumps({"event": "decision_made", "effect": "bad_request", "peer": "10.0.0.1"}),
        line(event="deny_page_served"),
        b"2024-05-06 08:00:00 [info] decision_made console line",
        orjson.dumps(old_format),
        line(),
    )
    assert (tally.records, tally.ignored, tally.incomplete) == (1, 4, 1)


def test_a_record_with_a_value_of_the_wrong_type_is_incomplete() -> None:
    """Groups that are not a list of names cannot be an input: counted, not replayed."""
    tally = tally_of(policies(GRAFANA), policies(GRAFANA), line(groups="sre"), line())
    report = replay(tally)
    assert (report.decisions, tally.incomplete) == (1, 1)


def test_the_same_input_run_with_another_event_is_not_counted_as_a_decision() -> None:
    """The fast path (a run of inputs seen before) still checks that the line is a decision."""
    tally = tally_of(
        policies(GRAFANA), policies(GRAFANA), line(), line(event="deny_page_served"), line()
    )
    assert (tally.records, tally.ignored) == (2, 1)


def test_an_anonymous_record_is_judged_as_an_anonymous_caller() -> None:
    """No subject: only bypass policies can match, so the wiki stays a deny-by-sign-in."""
    anonymous = {"user": None, "subject": None, "issuer": None, "email": None, "groups": []}
    tally = tally_of(
        policies(WIKI),
        policies(WIKI.replace("action: allow", "action: bypass")),
        line(host="wiki.example.com", amr=[], **anonymous),
    )
    (gain,) = report_dict(replay(tally), tally)["gains"]
    assert gain["before"]["effect"] == "unauthenticated"
    assert gain["after"]["reason"] == "policy-bypass"


def test_claim_selectors_without_recorded_claims_are_pointed_out() -> None:
    """A set with a claim selector over records that carry no claims gets a note naming the
    setting to turn on."""
    claimed = GRAFANA.replace("[{group: sre}]", "[{claim: {name: team, equals: sre}}]")
    tally = tally_of(policies(GRAFANA), policies(claimed), line())
    notes = report_dict(replay(tally), tally)["notes"]
    assert any("COUNTERSIGN_DECISION_CLAIMS" in note for note in notes)

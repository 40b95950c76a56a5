"""The alert rules and the Grafana dashboard in deploy/observability/ use only what a running
Countersign really exports, Prometheus's own checker accepts them, and each alert fires on the
condition it names (promtool's rule unit tests)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.core.decision import Effect
from tests.packaging.tools import DEPLOY, debian_tool, run
from tests.support.countersign import RunningCountersign, start_countersign
from tests.support.ports import LOOPBACK, free_port
from tests.support.redis_server import RedisServerFactory

pytestmark = pytest.mark.redis

OBSERVABILITY = DEPLOY / "observability"
RULES = OBSERVABILITY / "alerts.yml"
RULE_TESTS = OBSERVABILITY / "alerts.test.yml"
DASHBOARD = OBSERVABILITY / "countersign-dashboard.json"
POLICIES = Path(__file__).resolve().parents[1] / "e2e" / "policies"
ALICE = ("alice@example.com", ("engineers",))

#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = frozenset({"instance", "job"})
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}
_NAME = re.compile(r"\b(countersign_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(countersign_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"([^\"]*)\"")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


@dataclass(frozen=True, slots=True)
class Scrape:
    """Series names a /metrics answer exposes, with the label names seen on each."""

    labels: dict[str, frozenset[str]]
    values: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The value of one sample (0 when absent)."""
        return self.values.get((name, frozenset(labels.items())), 0.0)


def parse(text: str) -> Scrape:
    """Every series name a family of `text` may expose (a counter with no child yet still
    declares `_total`), and the labels its samples carry."""
    labels: dict[str, set[str]] = {}
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES.get(family.type, ("",)):
            labels.setdefault(family.name + suffix, set())
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape({name: frozenset(seen) for name, seen in labels.items()}, values)


@dataclass(frozen=True, slots=True)
class Scrapes:
    """/metrics of one replica while Redis was up, and after it went away."""

    healthy: Scrape
    without_redis: Scrape
    statuses: dict[str, int]


def _check(countersign: RunningCountersign, host: str, token: str) -> int:
    """Ask the nginx flavour of forward-auth about GET http://HOST/ as the token's holder."""
    response = httpx.get(
        f"{countersign.base_url}/auth/nginx",
        headers={
            "X-Original-URL": f"http://{host}/",
            "X-Original-Method": "GET",
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
        },
        timeout=30,
    )
    return response.status_code


def _scrape(countersign: RunningCountersign) -> Scrape:
    response = httpx.get(f"{countersign.base_url}/metrics", timeout=30)
    assert response.status_code == 200
    return parse(response.text)


@pytest.fixture(scope="module")
def scrapes(
    redis_server_factory: RedisServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scrapes]:
    """A real Countersign decides an open and an approval-gated application, is scraped, loses
    its Redis, decides the approval-gated one again (fail closed) and is scraped again."""
    redis = redis_server_factory(appendonly=True)
    port = free_port()
    countersign = start_countersign(
        tmp_path_factory.mktemp("metrics"),
        redis_url=redis.url,
        policy_dir=POLICIES,
        public_url=f"http://{LOOPBACK}:{port}",
        port=port,
    )
    try:
        token = countersign.mint(email=ALICE[0], groups=ALICE[1])
        statuses = {
            "open": _check(countersign, "open.example.com", token),
            "approval": _check(countersign, "approval.example.com", token),
        }
        healthy = _scrape(countersign)
        redis.stop()
        statuses["approval-without-redis"] = _check(countersign, "approval.example.com", token)
        yield Scrapes(healthy, _scrape(countersign), statuses)
    finally:
        countersign.stop()


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text("utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _rule_exprs() -> list[str]:
    return [str(rule["expr"]) for rule in _rules()]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    return loaded


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _dashboard_exprs() -> list[str]:
    dashboard = _dashboard()
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


EXPRESSIONS = {"alerts": _rule_exprs, "dashboard": _dashboard_exprs}


def test_the_scenario_decided_as_expected(scrapes: Scrapes) -> None:
    """The replica allowed the open app, asked for approval on the gated one (403 to an API
    client) and answered 503 for it once Redis was gone: the scrapes saw each kind."""
    assert scrapes.statuses == {"open": 200, "approval": 403, "approval-without-redis": 503}


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_every_metric_referenced_is_exported(scrapes: Scrapes, source: str) -> None:
    """Each countersign_* series an alert or a dashboard panel reads is in a real scrape."""
    exported = scrapes.without_redis.labels
    referenced = {name for expr in EXPRESSIONS[source]() for name in _NAME.findall(expr)}
    assert referenced, f"the {source} read no Countersign metric"
    assert sorted(referenced - exported.keys()) == []


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_every_label_referenced_is_exported(scrapes: Scrapes, source: str) -> None:
    """Label matchers and `by (...)` groupings name labels the series really carry (checked
    for every series the scrape had samples of)."""
    exported = scrapes.without_redis.labels
    wrong = []
    for expr in EXPRESSIONS[source]():
        names = set(_NAME.findall(expr))
        for name, matchers in _SELECTOR.findall(expr):
            for label, _value in _MATCHER.findall(matchers):
                if exported.get(name) and label not in exported[name] | TARGET_LABELS:
                    wrong.append(f"{name}{{{label}}}")
        if all(exported.get(name) for name in names):
            allowed = TARGET_LABELS.union(*(exported[name] for name in names))
            for grouping in _BY.findall(expr):
                wrong += [
                    f"by {label} in {expr!r}"
                    for label in (part.strip() for part in grouping.split(","))
                    if label not in allowed
                ]
    assert wrong == []


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_effect_values_are_real_effects(source: str) -> None:
    """`effect="..."` matchers name effects a decision can have."""
    effects = {effect.value for effect in Effect}
    used = set()
    for expr in EXPRESSIONS[source]():
        for _name, matchers in _SELECTOR.findall(expr):
            for label, value in _MATCHER.findall(matchers):
                if label == "effect":
                    used.update(value.split("|"))
    assert used - effects == set()


def test_fail_closed_decisions_are_counted_for_the_alert(scrapes: Scrapes) -> None:
    """CountersignDecisionErrors has something to see: the 503 without Redis counted one
    grant-state-unavailable decision error (and one Redis error); the healthy scrape had none."""
    name = "countersign_decision_errors_total"
    reason = "grant-state-unavailable"
    assert scrapes.healthy.value(name, reason=reason) == 0
    assert scrapes.healthy.value(name, reason="internal-error") == 0
    assert scrapes.without_redis.value(name, reason=reason) >= 1
    assert scrapes.without_redis.value("countersign_redis_errors_total") >= 1


def test_promtool_accepts_the_rules() -> None:
    """`promtool check rules` (Debian's prometheus) finds every rule valid."""
    output = run([debian_tool("promtool", "prometheus"), "check", "rules", str(RULES)])
    assert f"SUCCESS: {len(_rules())} rules found" in output


def test_each_alert_fires_on_its_condition() -> None:
    """`promtool test rules`: every alert fires on the series it names, none on a healthy one."""
    promtool = debian_tool("promtool", "prometheus")
    output = run([promtool, "test", "rules", RULE_TESTS.name], cwd=OBSERVABILITY)
    assert "SUCCESS" in output
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text("utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert tested == {rule["alert"] for rule in _rules()}


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    """The dashboard imports as is: a uid, unique panel ids, every query on the datasource
    variable, and panels for decisions, latency, requests, grants and notifications."""
    dashboard = _dashboard()
    assert dashboard["uid"]
    assert dashboard["schemaVersion"] >= 36
    panels = list(_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    queried = [panel for panel in panels if panel["type"] != "row"]
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in queried)
    assert all(panel["targets"] for panel in queried)
    titles = " ".join(panel["title"].lower() for panel in panels)
    for topic in ("effect", "application", "latency", "second opinion", "grants", "notif"):
        assert topic in titles, topic

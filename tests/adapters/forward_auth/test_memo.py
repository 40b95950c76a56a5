"""The decision memo through the forward-auth handler: what is answered from memory, what is
always decided, what ends a remembered decision, and that every check is still logged as its
own. The grant cache is the real one; the Redis read behind it and its channel are stand-ins
(test_memo_redis.py runs the same against a real server)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

from prometheus_client import CollectorRegistry, generate_latest

from app.adapters.forward_auth.answers import Targets
from app.adapters.forward_auth.handler import ForwardAuth
from app.adapters.forward_auth.memo import DecisionMemo, MemoCollector
from app.adapters.observability.decision_log import decision_log
from app.adapters.observability.lines import BufferedLines
from app.adapters.store.grant_cache import ACCESS_PREFIX, GrantCache
from app.adapters.store.keys import access_tag
from app.core.approvals.person import Person, Scope
from app.core.context import UNKNOWN_DEVICE, Device, Identity, IPAddress
from app.core.decision import GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.policy_set import PolicySet
from app.services.decide import DecisionService
from tests.adapters.forward_auth.memo_support import Channel, Observer, Store
from tests.adapters.forward_auth.scenario import call, nginx, traefik

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ISSUER = "https://idp.example.com"
ALICE = Identity("alice", "alice@example.com", frozenset({"engineers"}), issuer=ISSUER)
BOB = Identity("bob", "bob@example.com", frozenset({"sre"}), issuer=ISSUER)
TOKENS = {"alice-token": ALICE, "bob-token": BOB}
POLICY = """
application: {id: grafana, name: Grafana, hosts: [grafana.example.com]}
policies:
  - name: SRE on managed devices
    action: allow
    include: [{group: sre}]
    require: [{device: {managed: true}}]
  - name: Engineers with approval
    action: allow
    include: [{group: engineers}]
    approval: {approvers: [{group: sre-leads}], default_duration: 1h, max_duration: 8h}
"""
WIKI = """
application: {id: wiki, name: Wiki, hosts: [wiki.example.com]}
policies:
  - {name: Staff, action: allow, include: [{email_domain: example.com}]}
"""
POLICIES = compile_policy_set([Source("grafana.yaml", POLICY), Source("wiki.yaml", WIKI)])
GRAFANA = "https://grafana.example.com/d/1"
WIKI_URL = "https://wiki.example.com/page"


async def identify(headers: Mapping[str, str]) -> tuple[Identity | None, str | None]:
    token = headers.get("authorization", "").removeprefix("Bearer ")
    return TOKENS.get(token), None


def signals(
    peer: str, headers: Mapping[str, str], identity: Identity | None
) -> tuple[IPAddress | None, str | None, Device]:
    managed = headers.get("x-device") == "managed"
    client = headers.get("x-client", "198.51.100.7")
    return ip_address(client), "FR", Device(managed=True) if managed else UNKNOWN_DEVICE


class Rig:
    """A handler with the memo, over the real grant cache, with a clock the test moves."""

    def __init__(self, policies: PolicySet = POLICIES) -> None:
        self.now = NOW
        self.policies = policies
        self.store = Store()
        self.channel = Channel()
        self.cache = GrantCache(self.store, clock=self.clock)
        self.cache.follow(self.channel)
        self.cache.channel_up()
        self.observer = Observer()
        decisions = DecisionService(
            policies=lambda: self.policies,
            grants=self.cache,
            memory=self.cache,
            clock=self.clock,
            observer=self.observer,
            store_timeout=5.0,
        )
        self.memo = DecisionMemo(
            policies=lambda: self.policies,
            memory=self.cache,
            clock=self.clock,
            observer=self.observer,
            max_age=timedelta(seconds=30),
        )
        self.handler = ForwardAuth(
            decisions=decisions,
            identify=identify,
            signals=signals,
            is_trusted_peer=lambda peer: peer == "127.0.0.1",
            targets=Targets("https://auth.example.com/login", "https://auth.example.com/request"),
            memo=self.memo,
        )

    def clock(self) -> datetime:
        return self.now

    def check(self, headers: dict[str, str], path: str = "/auth/nginx") -> int:
        return call(self.handler, path, headers).status_code

    def grant(self, who: Identity, state: GrantState) -> None:
        """Change `who`'s grant records, and push the invalidation Redis would push."""
        person = Person.of(who)
        self.store.states[person] = state
        for app in self.policies.applications.values():
            for policy in app.policies:
                tag = access_tag(person, Scope.of(app.id, policy))
                self.cache.invalidate([f"{ACCESS_PREFIX}{tag}:grant"])


def test_an_identity_only_allow_is_answered_from_memory() -> None:
    """ALICE opening the wiki twice: the second check reuses the first decision."""
    rig = Rig()
    assert rig.check(nginx(WIKI_URL, "alice-token")) == 200
    assert rig.check(nginx(WIKI_URL, "alice-token")) == 200
    assert (rig.memo.counts.hits, rig.memo.counts.misses) == (1, 1)
    assert len(rig.observer.decisions) == 2  # a hit is still a decision on /metrics


def test_a_decision_that_read_a_signal_is_made_every_time() -> None:
    """BOB on Grafana is judged on his device: never remembered, whatever he asks."""
    rig = Rig()
    assert rig.check(nginx(GRAFANA, "bob-token", **{"X-Device": "managed"})) == 200
    assert rig.check(nginx(GRAFANA, "bob-token")) == 403  # unmanaged: no policy left
    assert rig.check(nginx(GRAFANA, "bob-token", **{"X-Device": "managed"})) == 200
    assert (rig.memo.counts.hits, rig.memo.counts.misses) == (0, 3)
    assert len(rig.observer.decisions) == 3


def test_a_signal_rule_passed_over_by_an_identity_rule_does_not_stop_the_memo() -> None:
    """ALICE is not in `sre`, so the device rule is never consulted for her: her Grafana
    decision is remembered."""
    rig = Rig()
    rig.check(nginx(GRAFANA, "alice-token"))
    rig.check(nginx(GRAFANA, "alice-token", **{"X-Device": "managed"}))
    assert rig.memo.counts.hits == 1


def test_a_grant_change_for_that_person_ends_the_remembered_decision() -> None:
    """ALICE needs approval (remembered); BOB approves; her very next check is allowed."""
    rig = Rig()
    assert rig.check(nginx(GRAFANA, "alice-token")) == 401
    assert rig.check(nginx(GRAFANA, "alice-token")) == 401
    rig.grant(ALICE, GrantState(grant_expires_at=NOW + timedelta(hours=1), grant_id="g1"))
    assert rig.check(nginx(GRAFANA, "alice-token")) == 200
    assert rig.check(nginx(GRAFANA, "alice-token")) == 200
    rig.grant(ALICE, GrantState())  # revoked
    assert rig.check(nginx(GRAFANA, "alice-token")) == 401
    assert rig.memo.counts.hits == 2


def test_a_lost_invalidation_channel_stops_grant_answers_from_memory() -> None:
    """While the grant cache cannot be kept exact, an allow through a grant is decided anew
    (from the store) on every check."""
    rig = Rig()
    rig.grant(ALICE, GrantState(grant_expires_at=NOW + timedelta(hours=1), grant_id="g1"))
    rig.check(nginx(GRAFANA, "alice-token"))
    rig.channel.up = False
    rig.cache.channel_lost()
    reads = rig.store.reads
    for _ in range(3):
        assert rig.check(nginx(GRAFANA, "alice-token")) == 200
    assert rig.store.reads == reads + 3
    assert rig.memo.counts.hits == 0


def test_a_remembered_allow_ends_with_the_grant() -> None:
    """A grant ending in 20 s: the allow is reused until then, never after."""
    rig = Rig()
    ends = NOW + timedelta(seconds=20)
    rig.grant(ALICE, GrantState(grant_expires_at=ends, grant_id="g1"))
    assert rig.check(nginx(GRAFANA, "alice-token")) == 200
    rig.now = ends - timedelta(seconds=1)
    assert rig.check(nginx(GRAFANA, "alice-token")) == 200
    assert rig.memo.counts.hits == 1
    rig.now = ends
    assert rig.check(nginx(GRAFANA, "alice-token")) == 401


def test_no_decision_outlives_the_cap() -> None:
    """Past max_age the decision is made again, even when nothing changed."""
    rig = Rig()
    rig.check(nginx(WIKI_URL, "alice-token"))
    rig.now += timedelta(seconds=30)
    rig.check(nginx(WIKI_URL, "alice-token"))
    assert (rig.memo.counts.hits, rig.memo.counts.misses) == (0, 2)


def test_a_policy_reload_forgets_every_decision() -> None:
    """A new policy set: the remembered allow is not reused, the new policy decides."""
    rig = Rig()
    assert rig.check(nginx(WIKI_URL, "alice-token")) == 200
    closed = WIKI.replace("email_domain: example.com", "email_domain: other.example")
    rig.policies = compile_policy_set([Source("grafana.yaml", POLICY), Source("wiki.yaml", closed)])
    assert rig.check(nginx(WIKI_URL, "alice-token")) == 403
    assert rig.memo.counts.flushes == 1


def test_each_check_answered_from_memory_is_logged_as_its_own() -> None:
    """Request id, client IP, path and status of a hit are those of that request."""
    rig = Rig()
    log = io.BytesIO()
    decision_log.configure(BufferedLines(log, interval=0), min_level=logging.INFO)
    try:
        rig.check(nginx(WIKI_URL, "alice-token", **{"X-Request-Id": "first"}))
        rig.check(
            nginx(
                WIKI_URL + "/other",
                "alice-token",
                **{"X-Request-Id": "second", "X-Client": "203.0.113.9"},
            )
        )
        decision_log.flush()
    finally:
        decision_log.configure(None, min_level=logging.INFO)
    logs = [json.loads(line) for line in log.getvalue().splitlines()]
    lines = [line for line in logs if line["event"] == "decision_made"]
    assert rig.memo.counts.hits == 1
    assert [(line["request_id"], line["client_ip"], line["path"]) for line in lines] == [
        ("first", "198.51.100.7", "/page"),
        ("second", "203.0.113.9", "/page/other"),
    ]
    assert all(line["effect"] == "allow" and line["status"] == 200 for line in lines)


def test_the_answer_of_a_hit_is_the_flavours_and_the_clients() -> None:
    """One remembered decision, answered per proxy and client: nginx 401 + Location to the
    request page, Traefik's browser 302 with this request's URL, an API client 403."""
    rig = Rig()
    first = call(rig.handler, "/auth/nginx", nginx(GRAFANA, "alice-token"))
    browser = call(rig.handler, "/auth/traefik", traefik(GRAFANA + "?x=1", "alice-token"))
    api = call(rig.handler, "/auth/traefik", {**traefik(GRAFANA, "alice-token"), "Accept": "*/*"})
    assert rig.memo.counts.hits == 2
    assert first.status_code == 401
    assert "rd=https%3A%2F%2Fgrafana.example.com%2Fd%2F1" in first.headers["location"]
    assert browser.status_code == 302
    assert "%2Fd%2F1%3Fx%3D1" in browser.headers["location"]
    assert api.status_code == 403


def test_memo_hits_and_misses_are_on_metrics() -> None:
    """countersign_decision_memo_hits_total and _misses_total count the checks."""
    rig = Rig()
    registry = CollectorRegistry()
    registry.register(MemoCollector(rig.memo.counts))
    for _ in range(3):
        rig.check(nginx(WIKI_URL, "alice-token"))
    text = generate_latest(registry).decode()
    assert "countersign_decision_memo_hits_total 2.0" in text
    assert "countersign_decision_memo_misses_total 1.0" in text
    assert "countersign_decision_memo_entries 1.0" in text

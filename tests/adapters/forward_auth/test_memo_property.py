"""The decision memo never changes a decision: random policy sets, random sequences of checks
with policy reloads, grant changes, lost invalidation channels and the clock moving in between,
each check answered through the memo compared with a fresh evaluation of the same request.

The memo runs over the real grant cache (GrantCache), kept exact the way Redis keeps it: every
change to a grant state is followed by the invalidation Redis would push; only the Redis read
behind the cache and its tracking channel are stand-ins.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.adapters.forward_auth.memo import DecisionMemo
from app.adapters.store.grant_cache import ACCESS_PREFIX, GrantCache
from app.adapters.store.keys import access_tag
from app.core.approvals.person import Person, Scope
from app.core.context import AccessContext, Device, Identity
from app.core.decision import NO_GRANTS, Decision, GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet
from app.services.decide import DecisionService
from tests.adapters.forward_auth.memo_support import Channel, Observer, Store

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SELECTORS = (
    "{everyone: true}",
    "{group: sre}",
    "{group: [eng, ops]}",
    "{email: alice@example.com}",
    "{email_domain: example.com}",
    "{claim: {name: dept, equals: ops}}",
    "{ip: 10.0.0.0/8}",
    "{country: [FR]}",
    "{device: {managed: true}}",
    "{auth_method: mfa}",
    '{time: {hours: "09:00-09:30"}}',
)
APPROVAL = "approval: {approvers: [{group: leads}], default_duration: 1h, max_duration: 8h}"
JUSTIFICATION = "justification: {required: true, prompt: Why?}"


def person(name: str, groups: set[str], **claims: str) -> Identity:
    return Identity(
        name,
        f"{name}@example.com" if name != "mallory" else "mallory@contractor.example",
        frozenset(groups),
        amr=frozenset({"mfa"} if name == "bob" else {"pwd"}),
        claims=claims,
        issuer="https://idp.example.com",
    )


#: Tokens: each is one identity object, as the token cache hands it out; two tokens of one
#: person are two objects with equal content.
IDENTITIES = (
    None,
    person("alice", {"eng"}),
    person("alice", {"eng"}),
    person("bob", {"sre", "leads"}, dept="ops"),
    person("carol", {"ops"}, dept="ops"),
    person("mallory", set()),
)
HOSTS = ("app0.example.com", "app1.example.com", "elsewhere.example.com")
PATHS = ("/", "/admin/x", "/health")
SIGNALS = (
    (ip_address("10.1.2.3"), "FR", Device(managed=True)),
    (ip_address("192.0.2.7"), "DE", Device()),
    (None, None, Device()),
)

#: Identity rules drawn as often as the others: remembered decisions are then common.
IDENTITY_RULES = SELECTORS[:6]
rules = st.lists(
    st.one_of(st.sampled_from(IDENTITY_RULES), st.sampled_from(SELECTORS)), min_size=1, max_size=3
)


@st.composite
def policy(draw: st.DrawFn, index: int) -> str:
    action = draw(st.sampled_from(("allow", "allow", "block", "bypass")))
    lines = [f"  - name: p{index}", f"    action: {action}"]
    lines.append(f"    include: [{', '.join(draw(rules))}]")
    for section in ("require", "exclude"):
        if draw(st.booleans()):
            lines.append(f"    {section}: [{', '.join(draw(rules))}]")
    if action == "allow":
        extra = draw(st.sampled_from(("", APPROVAL, APPROVAL, JUSTIFICATION)))
        if extra:
            lines.append(f"    {extra}")
    return "\n".join(lines)


@st.composite
def policy_set(draw: st.DrawFn) -> PolicySet:
    sources = []
    for number in range(2):
        count = draw(st.integers(1, 3))
        policies = "\n".join(draw(policy(i)) for i in range(count))
        paths = '["/"]' if number == 0 else '["/admin"]'
        host = HOSTS[0] if number == 0 else HOSTS[draw(st.integers(0, 1))]
        text = (
            f"application: {{id: app{number}, name: App {number}, hosts: [{host}], "
            f"paths: {paths}}}\npolicies:\n{policies}\n"
        )
        sources.append(Source(f"app{number}.yaml", text))
    return compile_policy_set(sources)


check = st.tuples(
    st.just("check"),
    st.integers(0, len(IDENTITIES) - 1),
    st.sampled_from((HOSTS[0], HOSTS[0], HOSTS[0], HOSTS[1], HOSTS[2])),
    st.sampled_from(PATHS),
    st.integers(0, len(SIGNALS) - 1),
)
grant_change = st.tuples(
    st.just("grant"),
    st.integers(1, len(IDENTITIES) - 1),
    st.sampled_from(("granted", "expired", "pending", "justified", "upcoming", "none")),
)
steps = st.lists(
    st.one_of(
        check,
        check,
        check,
        grant_change,
        st.tuples(st.just("reload")),
        st.tuples(st.just("channel"), st.booleans()),
        st.tuples(st.just("tick"), st.integers(1, 900)),
    ),
    min_size=20,
    max_size=60,
)


def state_for(kind: str, now: datetime) -> GrantState:
    hour = timedelta(hours=1)
    return {
        "granted": GrantState(grant_expires_at=now + timedelta(minutes=20), grant_id="g"),
        "expired": GrantState(grant_expires_at=now - hour, grant_id="g"),
        "pending": GrantState(pending_request_id="r"),
        "justified": GrantState(justified_until=now + timedelta(minutes=5)),
        "upcoming": GrantState(
            grant_expires_at=now + 2 * hour, grant_id="g", grant_starts_at=now + hour / 6
        ),
        "none": NO_GRANTS,
    }[kind]


def run(sets: list[PolicySet], plan: list[tuple[object, ...]]) -> tuple[list[str], int]:
    """Every check of `plan`, through the memo: the checks whose decision differs from a
    fresh evaluation, and how many were answered from memory."""
    clock = [START]
    current = [sets[0]]
    store, channel = Store(), Channel()
    cache = GrantCache(store, clock=lambda: clock[0])
    cache.follow(channel)
    cache.channel_up()
    decisions = DecisionService(
        policies=lambda: current[0],
        grants=cache,
        memory=cache,
        clock=lambda: clock[0],
        observer=Observer(),
        store_timeout=5.0,
    )
    # A cap far above the clock's steps: what ends a remembered decision is then the memo's
    # own rules (reloads, grant changes, the grant's instants), not the cap.
    memo = DecisionMemo(
        policies=lambda: current[0],
        memory=cache,
        clock=lambda: clock[0],
        observer=Observer(),
        max_age=timedelta(hours=2),
    )

    async def through_memo(context: AccessContext) -> Decision:
        known = memo.recall(context)
        if known is not None:
            return known
        decision = await decisions.decide(context)
        memo.remember(context, decision)
        return decision

    async def body() -> list[str]:
        wrong: list[str] = []
        reloads = 0
        for number, step in enumerate(plan):
            match step:
                case ("check", int(who), str(host), str(path), int(signal)):
                    identity = IDENTITIES[who]
                    client_ip, country, device = SIGNALS[signal]
                    context = AccessContext(
                        host=host,
                        path=path,
                        identity=identity,
                        client_ip=client_ip,
                        country=country,
                        device=device,
                    )
                    got = await through_memo(context)
                    # The truth: what the store holds now (a state for no one policy in
                    # particular counts under whichever matched).
                    truth = NO_GRANTS
                    if identity is not None:
                        truth = store.states.get(Person.of(identity), NO_GRANTS)
                    want = evaluate(current[0], context, grants=truth, now=clock[0])
                    if got != want:
                        wrong.append(f"step {number}: {step}: memo {got}, fresh {want}")
                case ("grant", int(who), str(kind)):
                    identity = IDENTITIES[who]
                    assert identity is not None
                    changed = Person.of(identity)
                    store.states[changed] = state_for(kind, clock[0])
                    # What Redis pushes on the tracking channel for every changed access key.
                    for policies in sets:
                        for app in policies.applications.values():
                            for rule in app.policies:
                                tag = access_tag(changed, Scope.of(app.id, rule))
                                cache.invalidate([f"{ACCESS_PREFIX}{tag}:grant"])
                case ("reload",):
                    reloads += 1
                    current[0] = sets[reloads % len(sets)]
                case ("channel", bool(up)):
                    if up and not channel.up:
                        channel.up = True
                        cache.channel_up()
                    elif not up and channel.up:
                        channel.up = False
                        cache.channel_lost()
                case ("tick", int(seconds)):
                    clock[0] += timedelta(seconds=seconds)
        return wrong

    return asyncio.run(body()), memo.counts.hits


def one_app(policies: str) -> PolicySet:
    """One application at HOSTS[0] with these policies (for the explicit examples)."""
    text = f"application: {{id: app0, name: A, hosts: [{HOSTS[0]}]}}\npolicies:\n{policies}\n"
    return compile_policy_set([Source("app0.yaml", text)])


APPROVED = one_app(f"  - name: p\n    action: allow\n    include: [{{group: eng}}]\n    {APPROVAL}")
JUSTIFIED = one_app(
    f"  - name: p\n    action: allow\n    include: [{{group: eng}}]\n    {JUSTIFICATION}"
)
ALICE_CHECKS: tuple[object, ...] = ("check", 1, HOSTS[0], "/", 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sets=st.lists(policy_set(), min_size=1, max_size=3), plan=steps)
# The sequences that matter most, always run: approved, then the grant runs out; a planned
# window opens (after the grant cache's own cap, and before it); a justification lapses;
# revoked while the channel was down.
@example(
    sets=[APPROVED],
    plan=[
        ALICE_CHECKS,
        ALICE_CHECKS,
        ("grant", 1, "granted"),
        ALICE_CHECKS,
        ALICE_CHECKS,
        ("tick", 900),
        ALICE_CHECKS,
        ("tick", 600),
        ALICE_CHECKS,
    ],
)
@example(
    sets=[APPROVED],
    plan=[("grant", 1, "upcoming"), ALICE_CHECKS, ALICE_CHECKS, ("tick", 700), ALICE_CHECKS],
)
@example(
    sets=[APPROVED],
    plan=[
        ("grant", 1, "upcoming"),
        ("tick", 570),  # 30 s before the window opens: kept only until it does
        ALICE_CHECKS,
        ALICE_CHECKS,
        ("tick", 40),
        ALICE_CHECKS,
    ],
)
@example(
    sets=[JUSTIFIED],
    plan=[("grant", 1, "justified"), ALICE_CHECKS, ALICE_CHECKS, ("tick", 400), ALICE_CHECKS],
)
@example(
    sets=[APPROVED],
    plan=[
        ("grant", 1, "granted"),
        ALICE_CHECKS,
        ALICE_CHECKS,
        ("channel", False),
        ("grant", 1, "none"),
        ALICE_CHECKS,
        ("channel", True),
        ALICE_CHECKS,
    ],
)
def test_the_memo_never_changes_a_decision(
    sets: list[PolicySet], plan: list[tuple[object, ...]]
) -> None:
    """Whatever the policies and whatever happens between checks, a check answered through
    the memo gets the decision a fresh evaluation of the same request gives."""
    wrong, _ = run(sets, plan)
    assert wrong == []


def test_the_property_exercises_remembered_decisions() -> None:
    """The comparison above is not vacuous: the same identity-only check twice is a hit."""
    sets = [
        compile_policy_set(
            [
                Source(
                    "app0.yaml",
                    "application: {id: app0, name: A, hosts: [app0.example.com]}\n"
                    "policies:\n  - {name: p, action: allow, include: [{group: eng}]}\n",
                )
            ]
        )
    ]
    plan: list[tuple[object, ...]] = [("check", 1, "app0.example.com", "/", 0)] * 3
    assert run(sets, plan) == ([], 2)

"""Invariants of evaluation, checked with Hypothesis: deny by default, exclude dominates, list
order never matters, CIDR lists mean their addresses, grants count iff now < expires_at, and
evaluation is a pure function of its inputs."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.context import AccessContext, Device, Identity
from app.core.decision import NO_GRANTS, Decision, Effect, GrantState
from app.core.policy.evaluate import evaluate
from app.core.policy.model import Action, Application, Approval, Approver, Justification, Policy
from app.core.policy.policy_set import PolicySet
from app.core.reasons import Reason
from app.core.selectors import REGISTRY, Rule
from app.core.selectors.ip import compile_ip
from tests.core.personas import ALICE, NOW

MODEST = settings(max_examples=150, deadline=None)

HOST = "app.example.com"
GROUPS = ["sre", "sre-leads", "engineers", "contractors", "finance"]
EMAILS = [
    "alice@example.com",
    "bob@example.com",
    "mallory@contractor.example",
    "eve@elsewhere.example",
]
DOMAINS = ["example.com", "contractor.example", "elsewhere.example"]
ROLES = ["admin", "oncall", "developer", "auditor"]
DEPARTMENTS = ["engineering", "operations", "finance"]
COUNTRIES = ["FR", "DE", "RU", "KP", "US", "NO"]
CIDRS = ["10.0.0.0/8", "192.0.2.0/28", "203.0.113.7/32", "2001:db8::/32", "fd00::/8"]
ADDRESSES = [
    "10.1.2.3",
    "192.0.2.5",
    "192.0.2.17",
    "203.0.113.7",
    "198.51.100.1",
    "2001:db8::1",
    "2001:db9::1",
    "fd00::5",
    "::ffff:10.9.9.9",
]
TAGS = ["disk-encrypted", "os-current", "edr-running"]

# -- strategies ---------------------------------------------------------------------------------

identities = st.builds(
    Identity,
    subject=st.sampled_from(["u-1", "u-2", "u-3"]),
    email=st.none() | st.sampled_from(EMAILS),
    groups=st.frozensets(st.sampled_from(GROUPS)),
    amr=st.frozensets(st.sampled_from(["pwd", "mfa", "hwk"])),
    claims=st.builds(
        lambda roles, dept: MappingProxyType({"roles": roles, "department": dept}),
        st.lists(st.sampled_from(ROLES), unique=True),
        st.sampled_from(DEPARTMENTS),
    ),
)
devices = st.builds(Device, managed=st.booleans(), tags=st.frozensets(st.sampled_from(TAGS)))
paths = st.lists(st.sampled_from(["a", "api", "admin", "d", "x"]), max_size=5).map(
    lambda parts: "/" + "/".join(parts)
)


def contexts(host: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[AccessContext]:
    """Any request (to HOST unless told): signed in or not, with or without each signal."""
    return st.builds(
        AccessContext,
        host=host if host is not None else st.just(HOST),
        path=paths,
        identity=st.none() | identities,
        client_ip=st.none() | st.sampled_from(ADDRESSES).map(ipaddress.ip_address),
        country=st.none() | st.sampled_from(COUNTRIES),
        device=devices,
    )


def sublist(items: list[str]) -> st.SearchStrategy[list[str]]:
    """A non-empty list of distinct items."""
    return st.lists(st.sampled_from(items), min_size=1, max_size=len(items), unique=True)


# Selector specs as (kind, value) pairs; list values so that permutations mean something.
selector_specs = st.one_of(
    st.tuples(st.just("everyone"), st.just(True)),
    st.tuples(st.just("group"), sublist(GROUPS)),
    st.tuples(st.just("email"), sublist(EMAILS)),
    st.tuples(st.just("email_domain"), sublist(DOMAINS)),
    st.tuples(st.just("ip"), sublist(CIDRS)),
    st.tuples(st.just("country"), sublist(COUNTRIES)),
    st.tuples(st.just("auth_method"), sublist(["pwd", "mfa", "hwk"])),
    st.tuples(st.just("device"), st.builds(lambda m: {"managed": m}, st.booleans())),
    st.tuples(st.just("device"), st.builds(lambda t: {"tags": t}, sublist(TAGS))),
    st.tuples(
        st.just("claim"),
        st.builds(lambda r: {"name": "roles", "contains": r}, st.sampled_from(ROLES)),
    ),
    st.tuples(
        st.just("claim"),
        st.builds(lambda d: {"name": "department", "equals": d}, st.sampled_from(DEPARTMENTS)),
    ),
)


def rule(spec: tuple[str, Any]) -> Rule:
    """Compile one selector spec with the registered kind."""
    kind, value = spec
    return REGISTRY[kind].compile(value)


def one_app(*policies: Policy) -> PolicySet:
    """A policy set with one application on HOST at `/`."""
    app = Application("app", "App", (HOST,), ("/",), tuple(policies), "apps/app.yaml")
    return PolicySet.of([app])


def plain(name: str, index: int, action: Action, include: list[Rule], **extra: Any) -> Policy:
    """A policy with the given include and optional require/exclude."""
    return Policy(
        name,
        index,
        action,
        tuple(include),
        tuple(extra.get("require", ())),
        tuple(extra.get("exclude", ())),
        extra.get("justification"),
        extra.get("approval"),
    )


FALLBACK = plain("fallback", 1, Action.ALLOW, [rule(("everyone", True))])
APPROVAL = Approval(
    (Approver("group", "sre-leads"),), 1, timedelta(hours=1), timedelta(hours=8), timedelta(days=1)
)
JUSTIFICATION = Justification("Why?", 8, 2000, None, timedelta(hours=8))

# -- deny by default ----------------------------------------------------------------------------

GRAFANA_LIKE = one_app(
    plain(
        "sre",
        0,
        Action.ALLOW,
        [rule(("group", ["sre"]))],
        require=[rule(("device", {"managed": True}))],
    ),
    plain("block", 1, Action.BLOCK, [rule(("group", ["contractors"]))]),
    plain(
        "engineers", 2, Action.ALLOW, [rule(("email_domain", ["example.com"]))], approval=APPROVAL
    ),
)
grant_states = st.none() | st.builds(
    GrantState,
    grant_expires_at=st.none() | st.just(NOW + timedelta(hours=1)),
    grant_id=st.just("g-1"),
    justified_until=st.none() | st.just(NOW + timedelta(hours=1)),
    pending_request_id=st.none() | st.just("r-1"),
)


@MODEST
@given(
    ctx=contexts(host=st.from_regex(r"[a-z]{1,12}(\.[a-z]{1,8}){0,2}\.test", fullmatch=True)),
    grants=grant_states,
)
def test_unclaimed_host_is_always_denied(ctx: AccessContext, grants: GrantState | None) -> None:
    """Whoever asks, with whatever grants, a host no application claims is denied."""
    decision = evaluate(GRAFANA_LIKE, ctx, grants=grants, now=NOW)
    assert (decision.effect, decision.reasons) == (Effect.DENY, (Reason.APPLICATION_NOT_FOUND,))


@MODEST
@given(ctx=contexts(), grants=grant_states)
def test_unclaimed_path_is_always_denied(ctx: AccessContext, grants: GrantState | None) -> None:
    """On a host whose only application lives under /only, every other path is denied."""
    app = Application(
        "only", "Only", (HOST,), ("/only",), GRAFANA_LIKE.applications["app"].policies, "x"
    )
    decision = evaluate(PolicySet.of([app]), ctx, grants=grants, now=NOW)
    assert decision.effect is Effect.DENY
    assert decision.reasons == (Reason.APPLICATION_NOT_FOUND,)


@MODEST
@given(ctx=contexts(), grants=grant_states)
def test_an_allow_always_names_its_policy(ctx: AccessContext, grants: GrantState | None) -> None:
    """Nothing is open by default: every allow comes from a named policy of an application."""
    decision = evaluate(GRAFANA_LIKE, ctx, grants=grants, now=NOW)
    if decision.allowed:
        assert decision.application == "app"
        assert decision.policy is not None


# -- exclude dominates ---------------------------------------------------------------------------


def matching_excludes(ctx: AccessContext) -> list[tuple[str, Any]]:
    """Selector specs that certainly match `ctx` (so, as an exclude, must stop the policy)."""
    specs: list[tuple[str, Any]] = [("everyone", True), ("device", {"managed": ctx.device.managed})]
    identity = ctx.identity
    if identity is not None:
        if identity.email:
            specs.append(("email", identity.email))
        specs.extend(("group", g) for g in sorted(identity.groups))
        specs.extend(("auth_method", m) for m in sorted(identity.amr))
        specs.append(("claim", {"name": "department", "equals": identity.claims["department"]}))
    if ctx.client_ip is not None:
        specs.append(("ip", str(ctx.client_ip)))
    if ctx.country is not None:
        specs.append(("country", ctx.country))
    return specs


Sections = tuple[list[tuple[str, Any]], list[tuple[str, Any]], list[tuple[str, Any]]]
sections = st.tuples(
    st.lists(selector_specs, min_size=1, max_size=3),
    st.lists(selector_specs, max_size=2),
    st.lists(selector_specs, max_size=2),
)


@MODEST
@given(ctx=contexts(), action=st.sampled_from(list(Action)), spec=sections, data=st.data())
def test_a_matching_exclude_always_wins(
    ctx: AccessContext, action: Action, spec: Sections, data: st.DataObject
) -> None:
    """Adding an exclude that matches the request makes the policy as if it were not there."""
    include, require, exclude = spec
    hit = data.draw(st.sampled_from(matching_excludes(ctx)), label="matching exclude")
    at = data.draw(st.integers(0, len(exclude)), label="position")
    excludes = [*exclude[:at], hit, *exclude[at:]]
    guarded = plain(
        "guarded",
        0,
        action,
        [rule(s) for s in include],
        require=[rule(s) for s in require],
        exclude=[rule(s) for s in excludes],
    )
    with_guard = evaluate(one_app(guarded, FALLBACK), ctx, grants=NO_GRANTS, now=NOW)
    without = evaluate(one_app(FALLBACK), ctx, grants=NO_GRANTS, now=NOW)
    assert with_guard.policy != "guarded"
    assert with_guard == without


# -- order of lists never matters ---------------------------------------------------------------


@st.composite
def permuted_identity(draw: st.DrawFn) -> tuple[Identity, Identity]:
    """An identity and the same identity built from permuted groups, amr and list claims."""
    groups = draw(st.lists(st.sampled_from(GROUPS), unique=True))
    amr = draw(st.lists(st.sampled_from(["pwd", "mfa", "hwk"]), unique=True))
    roles = draw(st.lists(st.sampled_from(ROLES), unique=True))
    email = draw(st.sampled_from(EMAILS))
    dept = draw(st.sampled_from(DEPARTMENTS))

    def build(g: list[str], a: list[str], r: list[str]) -> Identity:
        claims = MappingProxyType({"roles": r, "department": dept, "scope": " ".join(r)})
        return Identity("u-1", email, frozenset(g), frozenset(a), claims)

    return build(groups, amr, roles), build(
        draw(st.permutations(groups)), draw(st.permutations(amr)), draw(st.permutations(roles))
    )


@st.composite
def permuted_policies(draw: st.DrawFn) -> tuple[PolicySet, PolicySet, PolicySet]:
    """A policy set; the same with each selector's values reordered; and the same with the
    selectors of each section reordered as well."""
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(list(Action)),
                st.lists(selector_specs, min_size=1, max_size=3),
                st.lists(selector_specs, max_size=2),
                st.lists(selector_specs, max_size=2),
            ),
            min_size=1,
            max_size=4,
        )
    )

    def shuffled(spec: tuple[str, Any]) -> tuple[str, Any]:
        kind, value = spec
        return (kind, draw(st.permutations(value))) if isinstance(value, list) else spec

    first, values, second = [], [], []
    for i, (action, inc, req, exc) in enumerate(specs):
        first.append(
            plain(
                f"p{i}",
                i,
                action,
                [rule(s) for s in inc],
                require=[rule(s) for s in req],
                exclude=[rule(s) for s in exc],
            )
        )
        values.append(
            plain(
                f"p{i}",
                i,
                action,
                [rule(shuffled(s)) for s in inc],
                require=[rule(shuffled(s)) for s in req],
                exclude=[rule(shuffled(s)) for s in exc],
            )
        )
        second.append(
            plain(
                f"p{i}",
                i,
                action,
                [rule(shuffled(s)) for s in draw(st.permutations(inc))],
                require=[rule(shuffled(s)) for s in draw(st.permutations(req))],
                exclude=[rule(shuffled(s)) for s in draw(st.permutations(exc))],
            )
        )
    return one_app(*first), one_app(*values), one_app(*second)


@MODEST
@given(
    people=permuted_identity(),
    sets=permuted_policies(),
    ip=st.none() | st.sampled_from(ADDRESSES),
    country=st.none() | st.sampled_from(COUNTRIES),
)
def test_permuting_lists_never_changes_a_decision(
    people: tuple[Identity, Identity],
    sets: tuple[PolicySet, PolicySet, PolicySet],
    ip: str | None,
    country: str | None,
) -> None:
    """The order of groups, amr, claim lists and of selector lists and values is irrelevant."""
    person, permuted_person = people
    original, reordered_values, reordered = sets
    client_ip = ipaddress.ip_address(ip) if ip else None

    def ask(policy_set: PolicySet, identity: Identity) -> Decision:
        ctx = AccessContext(HOST, "/", identity=identity, client_ip=client_ip, country=country)
        return evaluate(policy_set, ctx, grants=NO_GRANTS, now=NOW)

    expected = ask(original, person)
    assert ask(original, permuted_person) == expected
    assert ask(reordered_values, permuted_person) == expected
    # Reordering the selectors of a section may change which include is named first in the
    # reasons, never the outcome.
    for decision in (ask(reordered, person), ask(reordered, permuted_person)):
        assert (decision.effect, decision.policy) == (expected.effect, expected.policy)


# -- CIDR lists mean their addresses ------------------------------------------------------------


@st.composite
def small_networks(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A /28-/32 inside 10.0.0.0/24, or a /124-/128 inside 2001:db8::/120."""
    if draw(st.booleans()):
        prefix = draw(st.integers(28, 32))
        base = draw(st.integers(0, 255)) & ~((1 << (32 - prefix)) - 1)
        return ipaddress.ip_network(f"10.0.0.{base}/{prefix}")
    prefix = draw(st.integers(124, 128))
    base = draw(st.integers(0, 255)) & ~((1 << (128 - prefix)) - 1)
    return ipaddress.ip_network(f"2001:db8::{base:x}/{prefix}")


client_addresses = st.one_of(
    st.integers(0, 255).map(lambda n: ipaddress.ip_address(f"10.0.0.{n}")),
    st.integers(0, 255).map(lambda n: ipaddress.ip_address(f"::ffff:10.0.0.{n}")),
    st.integers(0, 255).map(lambda n: ipaddress.ip_address(f"2001:db8::{n:x}")),
    st.just(ipaddress.ip_address("10.0.1.0")),
)


@MODEST
@given(networks=st.lists(small_networks(), min_size=1, max_size=3), client=client_addresses)
def test_cidr_list_equals_its_expansion(
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    client: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """Matching a list of CIDRs is matching the set of their addresses, written one by one."""
    addresses = {a for net in networks for a in net}
    by_cidr = compile_ip([str(n) for n in networks])
    by_address = compile_ip(sorted(str(a) for a in addresses))
    ctx = AccessContext(HOST, "/", identity=ALICE, client_ip=client)
    judged = client.ipv4_mapped if client.version == 6 and client.ipv4_mapped else client
    assert by_cidr.test(ctx, NOW) == (judged in addresses)
    assert by_address.test(ctx, NOW) == by_cidr.test(ctx, NOW)


# -- a grant counts iff now < expires_at --------------------------------------------------------

offsets = st.timedeltas(min_value=timedelta(hours=-14), max_value=timedelta(hours=14)).map(
    lambda d: timezone(timedelta(minutes=int(d.total_seconds() // 60)))
)
# Hypothesis takes naive bounds and attaches the zone itself.
EARLIEST = datetime(2020, 1, 1)  # noqa: DTZ001  (naive bound required by st.datetimes)
LATEST = datetime(2030, 1, 1)  # noqa: DTZ001  (naive bound required by st.datetimes)
instants = st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=offsets)
nudges = st.one_of(
    st.just(timedelta(0)),
    st.timedeltas(min_value=timedelta(seconds=-2), max_value=timedelta(seconds=2)),
    st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
)


def approval_app() -> PolicySet:
    """ALICE's path: an allow policy with approval for example.com."""
    return one_app(
        plain("ask", 0, Action.ALLOW, [rule(("email_domain", "example.com"))], approval=APPROVAL)
    )


def justification_app() -> PolicySet:
    """ALICE's path: an allow policy with justification only."""
    return one_app(
        plain(
            "say why",
            0,
            Action.ALLOW,
            [rule(("email_domain", "example.com"))],
            justification=JUSTIFICATION,
        )
    )


APPROVAL_SET = approval_app()
JUSTIFICATION_SET = justification_app()


@MODEST
@given(now=instants, nudge=nudges, zone=offsets, pending=st.booleans())
def test_grant_counts_iff_now_is_before_expiry(
    now: datetime, nudge: timedelta, zone: timezone, pending: bool
) -> None:
    """Allowed exactly when now < expires_at, whatever the offsets the two are written in."""
    expires = (now + nudge).astimezone(zone)
    grants = GrantState(
        grant_expires_at=expires, grant_id="g-1", pending_request_id="r-1" if pending else None
    )
    ctx = AccessContext(HOST, "/", identity=ALICE)
    decision = evaluate(APPROVAL_SET, ctx, grants=grants, now=now)
    assert decision.allowed == (now < expires)
    if not decision.allowed:
        assert Reason.GRANT_EXPIRED in decision.reasons
        assert decision.effect is (Effect.PENDING if pending else Effect.NEEDS_APPROVAL)


@MODEST
@given(now=instants, nudge=nudges, zone=offsets)
def test_justification_counts_iff_now_is_before_its_end(
    now: datetime, nudge: timedelta, zone: timezone
) -> None:
    """A stated reason admits exactly while now < justified_until."""
    until = (now + nudge).astimezone(zone)
    ctx = AccessContext(HOST, "/", identity=ALICE)
    decision = evaluate(JUSTIFICATION_SET, ctx, grants=GrantState(justified_until=until), now=now)
    assert decision.allowed == (now < until)
    if not decision.allowed:
        assert decision.effect is Effect.NEEDS_JUSTIFICATION


# -- determinism ---------------------------------------------------------------------------------


@MODEST
@given(
    ctxs=st.lists(
        contexts(host=st.sampled_from([HOST, "other.example.com"])), min_size=1, max_size=8
    ),
    grants=grant_states,
    now=st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(UTC)),
)
def test_evaluation_is_deterministic(
    ctxs: list[AccessContext], grants: GrantState | None, now: datetime
) -> None:
    """The same inputs give the same Decision, whatever was evaluated before or in between."""
    policy_set = one_app(
        plain(
            "business hours",
            0,
            Action.ALLOW,
            [rule(("group", ["sre", "engineers"]))],
            require=[rule(("time", {"days": ["mon", "tue", "wed"], "hours": "08:00-20:00"}))],
        ),
        *GRAFANA_LIKE.applications["app"].policies[1:],
    )
    forward = [evaluate(policy_set, c, grants=grants, now=now) for c in ctxs]
    backward = [evaluate(policy_set, c, grants=grants, now=now) for c in reversed(ctxs)]
    assert forward == list(reversed(backward))
    explained = [evaluate(policy_set, c, grants=grants, now=now, explain=True) for c in ctxs]
    assert explained == [
        evaluate(policy_set, c, grants=grants, now=now, explain=True) for c in ctxs
    ]

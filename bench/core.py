"""`make bench-core`: µs per decision of the pure core, and the same story decided by Cedar.

1. Synthetic policy sets of 10, 1,000 and 10,000 applications (each shaped like the Grafana
   story, on its own host) are compiled from YAML text; the compile time and the median µs per
   decision over a fixed list of requests to random applications are printed. Routing is a
   dict lookup, so the 10,000 figure should stay within 1.5x of the 10 figure.
2. The Grafana story of `policy_rules/apps/grafana.yaml` is written by hand in Cedar and decided
   by cedarpy (the Rust Cedar engine) on the same requests: policies parsed once, entities
   prepared once, requests built up front. Both engines must agree on every decision (allow
   means the same in both: the approval path is modelled in Cedar with a `has_grant` context
   attribute); the command exits 1 if they do not.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import cedarpy

from app.core.context import AccessContext, Device, Identity
from app.core.decision import NO_GRANTS, GrantState
from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.evaluate import evaluate
from app.core.policy.policy_set import PolicySet

ROOT = Path(__file__).resolve().parents[1]
GRAFANA_FILE = ROOT / "policy_rules" / "apps" / "grafana.yaml"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SIZES = (10, 1_000, 10_000)
REQUESTS = 2_000  # distinct requests in the fixed list
LOOPS = 10  # passes over the list per run
RUNS = 7  # the median of these is reported
SCALE_BUDGET = 1.5
CEDAR_GOAL = 3.0

APP_TEMPLATE = """\
application:
  id: app-{i}
  name: Application {i}
  hosts: [app-{i}.bench.example.com]
  paths: ["/"]
policies:
  - name: Contractors never
    action: block
    include: [{{group: contractors}}]
  - name: SRE on managed devices
    action: allow
    include: [{{group: sre}}, {{group: sre-{team}}}]
    require: [{{device: {{managed: true}}}}]
    exclude: [{{country: [KP, IR, RU, BY]}}]
  - name: Engineers, second opinion required
    action: allow
    include: [{{email_domain: example.com}}]
    justification: {{required: true, prompt: "Ticket or incident?", min_length: 8}}
    approval:
      approvers: [{{group: sre-leads}}, {{email: cto@example.com}}]
      approvals_required: 1
      default_duration: 1h
      max_duration: 8h
"""


@dataclass(frozen=True, slots=True)
class Persona:
    """Who asks; `None` email means an anonymous caller."""

    key: str
    email: str | None
    groups: tuple[str, ...]


PERSONAS = (
    Persona("alice", "alice@example.com", ("engineering",)),
    Persona("bob", "bob@example.com", ("sre", "sre-leads")),
    Persona("carol", "carol@example.com", ("dba", "dba-leads")),
    Persona("dave", "dave@example.com", ("engineering",)),
    Persona("mallory", "mallory@partner.example.net", ("contractors",)),
    Persona("anonymous", None, ()),
)
COUNTRIES = ("FR", "DE", "US", "GB", "RU", "KP", None)
ACTIVE_GRANT = GrantState(NOW + timedelta(hours=1), "g-1", NOW + timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Request:
    """One request as both engines see it."""

    persona: Persona
    country: str | None
    managed: bool
    has_grant: bool
    path: str

    def context(self, host: str) -> AccessContext:
        """The Countersign view."""
        identity = (
            Identity(
                subject=self.persona.email,
                email=self.persona.email,
                groups=frozenset(self.persona.groups),
            )
            if self.persona.email
            else None
        )
        return AccessContext(
            host=host,
            path=self.path,
            identity=identity,
            country=self.country,
            device=Device(managed=self.managed),
        )

    @property
    def grants(self) -> GrantState:
        """What the grant store would answer."""
        return ACTIVE_GRANT if self.has_grant else NO_GRANTS


def random_requests(rng: random.Random, count: int) -> list[Request]:
    """A fixed mix of who, where from, on what device, with or without a grant."""
    return [
        Request(
            persona=rng.choice(PERSONAS),
            country=rng.choice(COUNTRIES),
            managed=rng.random() < 0.6,
            has_grant=rng.random() < 0.3,
            path=rng.choice(("/", "/d/abc", "/explore", "/api/dashboards/uid/x")),
        )
        for _ in range(count)
    ]


def median_us(decide: Callable[[], int], decisions: int) -> float:
    """Median over RUNS of the µs per decision of `decide()` (which makes `decisions`)."""
    samples = []
    decide()  # warm up caches and the interpreter's specialisation
    gc.collect()
    gc.disable()
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            decide()
            samples.append((time.perf_counter() - started) / decisions * 1e6)
    finally:
        gc.enable()
    return statistics.median(samples)


def countersign_loop(
    policy_set: PolicySet, items: Sequence[tuple[AccessContext, GrantState]], loops: int
) -> Callable[[], int]:
    """A closure deciding every item `loops` times; returns the number of allows."""

    def run() -> int:
        allowed = 0
        for _ in range(loops):
            for context, grants in items:
                if evaluate(policy_set, context, grants=grants, now=NOW).allowed:
                    allowed += 1
        return allowed

    return run


def bench_scaling(rng: random.Random) -> list[tuple[int, float, float]]:
    """(applications, compile seconds, µs/decision) for each size."""
    requests = random_requests(rng, REQUESTS)
    rows = []
    for size in SIZES:
        sources = [
            Source(f"bench/app-{i}.yaml", APP_TEMPLATE.format(i=i, team=i % 50))
            for i in range(size)
        ]
        started = time.perf_counter()
        policy_set = compile_policy_set(sources)
        compiled = time.perf_counter() - started
        targets = [rng.randrange(size) for _ in requests]
        items = [
            (request.context(f"app-{app}.bench.example.com"), request.grants)
            for request, app in zip(requests, targets, strict=True)
        ]
        us = median_us(countersign_loop(policy_set, items, LOOPS), len(items) * LOOPS)
        rows.append((size, compiled, us))
    return rows


CEDAR_POLICIES = """
// 1. "Contractors never" comes first in grafana.yaml, so nothing below can admit them; in
//    Cedar a forbid overrides every permit, which gives the same result.
@id("contractors-never")
forbid (principal in Group::"contractors", action, resource == App::"grafana");

// 2. "SRE on managed devices": include group sre, require a managed device, exclude
//    high-risk countries.
@id("sre-on-managed-devices")
permit (principal in Group::"sre", action == Action::"access", resource == App::"grafana")
when { context.device_managed }
unless { ["KP", "IR", "RU", "BY"].contains(context.country) };

// 3. "Engineers, second opinion required": anyone at example.com, but only with an active
//    grant (Countersign answers needs_approval otherwise; Cedar answers Deny).
@id("engineers-with-grant")
permit (principal, action == Action::"access", resource == App::"grafana")
when { principal.email_domain == "example.com" && context.has_grant };
"""


def cedar_entities() -> str:
    """Users (with their groups as parents and the email domain as attribute), groups, app."""
    groups = sorted({g for p in PERSONAS for g in p.groups})
    entities: list[dict[str, object]] = [
        {"uid": {"type": "Group", "id": g}, "attrs": {}, "parents": []} for g in groups
    ]
    entities.append({"uid": {"type": "App", "id": "grafana"}, "attrs": {}, "parents": []})
    for persona in PERSONAS:
        domain = persona.email.rsplit("@", 1)[1] if persona.email else ""
        entities.append(
            {
                "uid": {"type": "User", "id": persona.key},
                "attrs": {"email_domain": domain},
                "parents": [{"type": "Group", "id": g} for g in persona.groups],
            }
        )
    return json.dumps(entities)


def cedar_request(request: Request) -> dict[str, str]:
    """A request dict with the context already serialised (cedarpy would do it per call)."""
    context = {
        "device_managed": request.managed,
        "country": request.country or "",
        "has_grant": request.has_grant,
    }
    return {
        "principal": f'User::"{request.persona.key}"',
        "action": 'Action::"access"',
        "resource": 'App::"grafana"',
        "context": json.dumps(context),
    }


def bench_cedar(rng: random.Random) -> tuple[float, float, int, int, list[str]]:
    """(Countersign µs, cedarpy µs, requests, allows, disagreements) on the Grafana story."""
    policy_set = compile_policy_set([Source("grafana.yaml", GRAFANA_FILE.read_text("utf-8"))])
    requests = random_requests(rng, 1_000)
    items = [(r.context("grafana.example.com"), r.grants) for r in requests]
    cedar_policies = cedarpy.PolicySet.from_str(CEDAR_POLICIES)
    entities = cedarpy.Entities.from_json_str(cedar_entities())
    cedar_requests = [cedar_request(r) for r in requests]

    ours = [evaluate(policy_set, c, grants=g, now=NOW) for c, g in items]
    theirs = [cedarpy.is_authorized(q, cedar_policies, entities) for q in cedar_requests]
    disagreements = [
        f"{r}: countersign {d.effect.value} {list(d.reasons)}, cedar {t.decision.value}"
        for r, d, t in zip(requests, ours, theirs, strict=True)
        if d.allowed != t.allowed
    ]

    def cedar_run() -> int:
        allowed = 0
        for query in cedar_requests:
            if cedarpy.is_authorized(query, cedar_policies, entities).allowed:
                allowed += 1
        return allowed

    cs_us = median_us(countersign_loop(policy_set, items, LOOPS), len(items) * LOOPS)
    cedar_us = median_us(cedar_run, len(cedar_requests))
    allows = sum(d.allowed for d in ours)
    return cs_us, cedar_us, len(requests), allows, disagreements


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in (header, *rows)
    ]
    return "\n".join(lines)


def main() -> int:
    """Print both tables; exit 1 if the engines disagree on any decision."""
    rng = random.Random(20261124)
    print(f"Python {sys.version.split()[0]}")
    print(
        f"Countersign core: µs per decision, median of {RUNS} runs of "
        f"{REQUESTS * LOOPS:,} decisions over {REQUESTS:,} requests to random applications"
    )
    rows = bench_scaling(rng)
    print(
        _table(
            ("applications", "compile (s)", "µs/decision"),
            [(f"{n:,}", f"{c:.3f}", f"{us:.2f}") for n, c, us in rows],
        )
    )
    scale = rows[-1][2] / rows[0][2]
    verdict = "within budget" if scale <= SCALE_BUDGET else "OVER BUDGET"
    print(
        f"{rows[-1][0]:,} vs {rows[0][0]:,} applications: {scale:.2f}x "
        f"({verdict}: at most {SCALE_BUDGET}x)"
    )
    print()

    cs_us, cedar_us, count, allows, disagreements = bench_cedar(rng)
    print(
        f"Grafana story, {count:,} requests ({allows} allowed): Countersign vs cedarpy "
        f"{version('cedarpy')} (policies parsed once, entities prepared once)"
    )
    print(
        _table(
            ("engine", "µs/decision", "ratio"),
            [
                ("countersign", f"{cs_us:.2f}", "1.00x"),
                ("cedarpy", f"{cedar_us:.2f}", f"{cedar_us / cs_us:.2f}x"),
            ],
        )
    )
    goal = "met" if cedar_us / cs_us >= CEDAR_GOAL else "NOT MET"
    print(f"goal: Countersign at least {CEDAR_GOAL:.0f}x faster than cedarpy: {goal}")
    if disagreements:
        print(f"\nthe engines disagree on {len(disagreements)} request(s):", file=sys.stderr)
        for line in disagreements[:20]:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"both engines agree on all {count:,} decisions")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench` (impact): 1,000,000 recorded decisions replayed through two policy sets.

The decisions are written the way the service writes them (DecisionLog's record of an
AccessContext, serialised with orjson) for 4,000 people over a working day, to the shipped
`policy_rules/` story; the proposed set is a copy in which SRE lose the managed-device
shortcut and a business-hours window guards the database console (so records are told apart
by the minute, the costly case). Then `countersign policy impact --json` runs as a
subprocess, start-up included, and its wall time and rate are printed. Exits 1 when the
replay takes longer than BUDGET seconds (the goal is a million in under a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import orjson

from app.adapters.observability.decision_log import DecisionLog
from app.core.context import Device, Identity, Signals, build_access_context

ROOT = Path(__file__).resolve().parents[1]
RECORDS = int(os.environ.get("BENCH_IMPACT_RECORDS", "1000000"))
PEOPLE = 4_000
BUDGET = 60.0
START = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
HOSTS = (
    ("grafana.example.com", ("/", "/d/1", "/d/2", "/explore", "/alerting/list")),
    ("grafana.example.com", ("/api/health",)),
    ("wiki.example.com", ("/", "/spaces/eng", "/spaces/hr", "/edit/1")),
    ("db-console.example.com", ("/", "/query", "/tables")),
)
GROUPS = (("engineers",), ("sre",), ("sre", "sre-leads"), ("contractors",), ("finance",))
COUNTRIES = ("FR", "DE", "US", "GB", "RU")
#: The proposed set: only SRE leads keep the managed-device shortcut to Grafana (other SRE
#: must ask), and the database console may be asked for in business hours only.
EDITS = {
    "grafana.yaml": ("include: [{group: sre}]", "include: [{group: sre-leads}]"),
    "db-console.yaml": (
        "require: [{auth_method: mfa}]",
        "require: [{auth_method: mfa}, "
        '{time: {days: [mon, tue, wed, thu, fri], hours: "08:00-16:00"}}]',
    ),
}


def write_decisions(path: Path) -> None:
    """RECORDS decision records of PEOPLE people, in time order over ten hours: each person
    has one address, country and device for the day (as a working day looks)."""
    log = DecisionLog()
    rng = random.Random(16)
    people = [_person(n, rng) for n in range(PEOPLE)]
    inputs: dict[tuple[int, str, str], dict[str, object]] = {}
    step = timedelta(hours=10) / RECORDS
    with path.open("wb", buffering=1 << 20) as out:
        for i in range(RECORDS):
            n = rng.randrange(PEOPLE)
            host, paths = HOSTS[rng.randrange(len(HOSTS))]
            target = rng.choice(paths)
            fields = inputs.get((n, host, target))
            if fields is None:
                identity, signals = people[n]
                context = build_access_context(
                    host=host, path=target, method="GET", identity=identity, signals=signals
                )
                fields = inputs[n, host, target] = log.inputs(context)
            when = START + step * i
            record = {"request_id": f"r{i:x}", "proxy": "nginx", **fields}
            record.update(application=None, policy=None, effect="allow", reasons=[], status=200)
            record.update(identity_problem=None, latency_ms=0.1, event="decision_made")
            record.update(level="info", timestamp=f"{when:%Y-%m-%dT%H:%M:%S.%f}"[:23] + "Z")
            out.write(orjson.dumps(record) + b"\n")


def _person(n: int, rng: random.Random) -> tuple[Identity, Signals]:
    identity = Identity(
        subject=f"u{n}",
        email=f"user{n}@{'contractor.example' if n % 17 == 0 else 'example.com'}",
        groups=frozenset(rng.choice(GROUPS)),
        amr=frozenset({"pwd", "mfa"} if n % 3 else {"pwd"}),
        issuer="https://idp.example.com",
    )
    signals = (
        ip_address(f"10.{n % 7}.{n // 250 % 250}.{n % 250 + 1}"),
        COUNTRIES[n % len(COUNTRIES)],
        Device(managed=n % 4 != 0),
    )
    return identity, signals


def proposed(source: Path, target: Path) -> None:
    """A copy of the shipped policies with EDITS applied."""
    shutil.copytree(source, target)
    for name, (old, new) in EDITS.items():
        file = target / "apps" / name
        file.write_text(file.read_text().replace(old, new, 1))


def main() -> int:
    """Write the records, replay them, print the figures; 1 when over budget."""
    with tempfile.TemporaryDirectory(prefix="bench-impact-") as tmp:
        base = Path(tmp)
        decisions = base / "decisions.jsonl"
        started = time.perf_counter()
        write_decisions(decisions)
        written = time.perf_counter() - started
        proposed(ROOT / "policy_rules", base / "proposed")
        argv = [
            sys.executable,
            "-m",
            "app.cli",
            "policy",
            "impact",
            "--from",
            str(ROOT / "policy_rules"),
            "--to",
            str(base / "proposed"),
            "--decisions",
            str(decisions),
            "--json",
        ]
        started = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr.decode(), file=sys.stderr)
            return 1
        report = json.loads(result.stdout)
        size = decisions.stat().st_size
    print(f"impact replay: {RECORDS:,} records ({size / 1e6:.0f} MB, written in {written:.1f} s)")
    print(
        f"  distinct inputs {report['distinct_inputs']:,}; gains {len(report['gains'])}, "
        f"losses {len(report['losses'])}, changed {len(report['changed'])} groups; "
        f"unchanged {report['unchanged']:,}"
    )
    print(f"  {seconds:.1f} s wall, {RECORDS / seconds:,.0f} decisions/s (budget {BUDGET:.0f} s)")
    return 0 if seconds <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())

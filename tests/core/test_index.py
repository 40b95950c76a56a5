"""Routing a request to its application: exact and wildcard hosts, longest path prefix."""

from __future__ import annotations

import pytest

from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.index import RouteIndex
from app.core.policy.policy_set import PolicySet
from tests.core.personas import compile_texts


def app_doc(app_id: str, hosts: list[str], paths: list[str] | None = None) -> str:
    """A minimal valid application document."""
    text = f"application:\n  id: {app_id}\n  hosts: [{', '.join(repr(h) for h in hosts)}]\n"
    if paths is not None:
        text += f"  paths: [{', '.join(repr(p) for p in paths)}]\n"
    return text + "policies:\n  - {name: all, action: allow, include: [{everyone: true}]}\n"


def routed(policy_set: PolicySet, host: str, path: str) -> str | None:
    """The id of the application a request goes to, or None."""
    app = policy_set.resolve(host, path)
    return app.id if app is not None else None


def test_exact_host_matches() -> None:
    """grafana.example.com routes to grafana."""
    policy_set = compile_texts(app_doc("grafana", ["grafana.example.com"]))
    assert routed(policy_set, "grafana.example.com", "/d/abc") == "grafana"


def test_other_host_matches_nothing() -> None:
    """wiki.example.com routes nowhere when only grafana is configured."""
    policy_set = compile_texts(app_doc("grafana", ["grafana.example.com"]))
    assert routed(policy_set, "wiki.example.com", "/") is None


def test_exact_host_is_not_a_suffix_match() -> None:
    """evilgrafana.example.com and grafana.example.com.evil do not reach grafana."""
    policy_set = compile_texts(app_doc("grafana", ["grafana.example.com"]))
    assert routed(policy_set, "evilgrafana.example.com", "/") is None
    assert routed(policy_set, "grafana.example.com.evil", "/") is None


def test_wildcard_matches_one_label_below() -> None:
    """`*.example.com` matches sub.example.com."""
    policy_set = compile_texts(app_doc("intranet", ["*.example.com"]))
    assert routed(policy_set, "sub.example.com", "/") == "intranet"


def test_wildcard_matches_several_labels_below() -> None:
    """`*.example.com` matches a.b.example.com."""
    policy_set = compile_texts(app_doc("intranet", ["*.example.com"]))
    assert routed(policy_set, "a.b.example.com", "/") == "intranet"


def test_wildcard_does_not_match_the_apex() -> None:
    """`*.example.com` does not match example.com itself."""
    policy_set = compile_texts(app_doc("intranet", ["*.example.com"]))
    assert routed(policy_set, "example.com", "/") is None


def test_wildcard_does_not_match_a_lookalike_domain() -> None:
    """`*.example.com` does not match sub.notexample.com."""
    policy_set = compile_texts(app_doc("intranet", ["*.example.com"]))
    assert routed(policy_set, "sub.notexample.com", "/") is None


def test_more_specific_wildcard_wins() -> None:
    """`*.eu.example.com` beats `*.example.com` for x.eu.example.com."""
    policy_set = compile_texts(
        app_doc("global", ["*.example.com"]), app_doc("europe", ["*.eu.example.com"])
    )
    assert routed(policy_set, "x.eu.example.com", "/") == "europe"
    assert routed(policy_set, "x.us.example.com", "/") == "global"


def test_exact_host_beats_wildcard_on_equal_prefix() -> None:
    """With both on `/`, grafana.example.com goes to the exact entry."""
    policy_set = compile_texts(
        app_doc("intranet", ["*.example.com"]), app_doc("grafana", ["grafana.example.com"])
    )
    assert routed(policy_set, "grafana.example.com", "/") == "grafana"
    assert routed(policy_set, "wiki.example.com", "/") == "intranet"


def test_longer_prefix_on_wildcard_beats_exact_host_on_root() -> None:
    """The longest path prefix wins first: `*.example.com/admin` beats `grafana.example.com/`."""
    policy_set = compile_texts(
        app_doc("admin", ["*.example.com"], ["/admin"]), app_doc("grafana", ["grafana.example.com"])
    )
    assert routed(policy_set, "grafana.example.com", "/admin/users") == "admin"
    assert routed(policy_set, "grafana.example.com", "/d/abc") == "grafana"


def test_longest_path_prefix_wins_across_applications() -> None:
    """/api/admin/x goes to the /api/admin app, /api/x to /api, /x to /."""
    policy_set = compile_texts(
        app_doc("site", ["app.example.com"]),
        app_doc("api", ["app.example.com"], ["/api"]),
        app_doc("api-admin", ["app.example.com"], ["/api/admin"]),
    )
    assert routed(policy_set, "app.example.com", "/api/admin/users") == "api-admin"
    assert routed(policy_set, "app.example.com", "/api/v1/users") == "api"
    assert routed(policy_set, "app.example.com", "/index.html") == "site"


def test_prefix_itself_and_trailing_slash_match() -> None:
    """/api and /api/ both belong to the /api application."""
    policy_set = compile_texts(
        app_doc("site", ["app.example.com"]), app_doc("api", ["app.example.com"], ["/api"])
    )
    assert routed(policy_set, "app.example.com", "/api") == "api"
    assert routed(policy_set, "app.example.com", "/api/") == "api"


def test_prefixes_are_segment_aware() -> None:
    """/api does not match /apix or /api-docs; those fall back to /."""
    policy_set = compile_texts(
        app_doc("site", ["app.example.com"]), app_doc("api", ["app.example.com"], ["/api"])
    )
    assert routed(policy_set, "app.example.com", "/apix") == "site"
    assert routed(policy_set, "app.example.com", "/api-docs/x") == "site"


def test_no_root_application_means_unmatched_paths_route_nowhere() -> None:
    """With only /api configured, / and /other match nothing."""
    policy_set = compile_texts(app_doc("api", ["app.example.com"], ["/api"]))
    assert routed(policy_set, "app.example.com", "/") is None
    assert routed(policy_set, "app.example.com", "/other/api") is None


def test_trailing_slash_in_configured_prefix_is_normalised() -> None:
    """A prefix written `/api/` is stored as `/api` and routes /api itself."""
    policy_set = compile_texts(app_doc("api", ["app.example.com"], ["/api/"]))
    assert policy_set.applications["api"].paths == ("/api",)
    assert routed(policy_set, "app.example.com", "/api") == "api"


def test_very_deep_path_reaches_the_deepest_matching_prefix() -> None:
    """A 2,000-segment path under /a/b/c routes to the /a/b/c app, not to /a."""
    policy_set = compile_texts(
        app_doc("shallow", ["app.example.com"], ["/a"]),
        app_doc("deep", ["app.example.com"], ["/a/b/c"]),
    )
    deep_path = "/a/b/c" + "/x" * 2000
    assert routed(policy_set, "app.example.com", deep_path) == "deep"
    assert routed(policy_set, "app.example.com", "/a/b" + "/x" * 2000) == "shallow"


def test_deep_path_with_trailing_slash_still_routes() -> None:
    """/a/b/c/ with a deeper tail and a trailing slash reaches /a/b/c."""
    policy_set = compile_texts(app_doc("deep", ["app.example.com"], ["/a/b/c"]))
    assert routed(policy_set, "app.example.com", "/a/b/c/d/e/") == "deep"


def test_one_application_may_hold_several_hosts_and_paths() -> None:
    """Each (host, path) pair of an application is routed to it."""
    policy_set = compile_texts(
        app_doc("docs", ["docs.example.com", "help.example.com"], ["/guide", "/api"])
    )
    assert routed(policy_set, "help.example.com", "/api/x") == "docs"
    assert routed(policy_set, "docs.example.com", "/guide") == "docs"
    assert routed(policy_set, "docs.example.com", "/") is None


def test_configured_hosts_are_lower_cased() -> None:
    """A host written in capitals in a policy is routed by its lower-case form."""
    policy_set = compile_texts(app_doc("grafana", ["Grafana.Example.COM"]))
    assert routed(policy_set, "grafana.example.com", "/") == "grafana"


def test_index_counts_routes() -> None:
    """Two hosts times two paths make four routes."""
    policy_set = compile_texts(app_doc("docs", ["a.example.com", "b.example.com"], ["/x", "/y"]))
    assert len(policy_set.index) == 4


def test_empty_index_routes_nothing() -> None:
    """An index without routes answers None."""
    assert RouteIndex({}).resolve("app.example.com", "/") is None


def test_protected_hosts_include_wildcard_children() -> None:
    """Redirect validation: a host under a configured wildcard is protected, the apex is not."""
    policy_set = compile_texts(
        app_doc("intranet", ["*.corp.example.com"]), app_doc("grafana", ["grafana.example.com"])
    )
    assert policy_set.is_protected_host("grafana.example.com")
    assert policy_set.is_protected_host("wiki.corp.example.com")
    assert not policy_set.is_protected_host("corp.example.com")
    assert not policy_set.is_protected_host("evil.example.net")


@pytest.fixture(scope="module")
def ten_thousand() -> PolicySet:
    """10,000 applications, each with its own host and a /svc/<n> path on a shared host."""
    sources = [
        Source(
            f"apps/app-{i}.yaml",
            app_doc(f"app-{i}", [f"app-{i}.example.com", "shared.example.com"], [f"/svc/{i}"]),
        )
        for i in range(10_000)
    ]
    return compile_policy_set(sources)


def test_ten_thousand_applications_compile(ten_thousand: PolicySet) -> None:
    """All 10,000 applications and their 20,000 routes are in the set."""
    assert len(ten_thousand.applications) == 10_000
    assert len(ten_thousand.index) == 20_000


@pytest.mark.parametrize("n", [0, 1, 4_999, 9_999])
def test_ten_thousand_applications_resolve_by_host(ten_thousand: PolicySet, n: int) -> None:
    """Each application's own host routes to it."""
    assert routed(ten_thousand, f"app-{n}.example.com", f"/svc/{n}/x") == f"app-{n}"


@pytest.mark.parametrize("n", [0, 10, 100, 9_999])
def test_ten_thousand_applications_resolve_by_path(ten_thousand: PolicySet, n: int) -> None:
    """On the shared host, /svc/<n> reaches application n and no neighbour."""
    assert routed(ten_thousand, "shared.example.com", f"/svc/{n}") == f"app-{n}"
    assert routed(ten_thousand, "shared.example.com", f"/svc/{n}0000") is None


def test_ten_thousand_applications_leave_unknown_hosts_unmatched(ten_thousand: PolicySet) -> None:
    """A host no application claims still routes nowhere."""
    assert routed(ten_thousand, "app-10000.example.com", "/svc/1") is None

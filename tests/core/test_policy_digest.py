"""The policy set digest names what decides, not how the files look; `set_changes` names the
applications and policies one set adds, removes and changes compared with another."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from app.core.policy.compile import Source, compile_policy_set
from app.core.policy.digest import SetChanges, set_changes, set_digest
from app.core.policy.policy_set import PolicySet

GRAFANA = """
application: {id: grafana, hosts: [grafana.example.com, dash.example.com]}
policies:
  - {name: SRE on managed devices, action: allow, include: [{group: sre}]}
  - name: Engineers, second opinion required
    action: allow
    include: [{email_domain: example.com}]
    approval: {approvers: [{group: sre-leads}], max_duration: 8h}
"""
WIKI = """
application: {id: wiki, hosts: [wiki.example.com]}
policies:
  - {name: Everyone, action: allow, include: [{everyone: true}]}
"""


def compiled(**files: str) -> PolicySet:
    """A set compiled from `name=text` files."""
    return compile_policy_set([Source(f"{name}.yaml", text) for name, text in files.items()])


def test_the_digest_is_sha256_hex() -> None:
    """64 hex digits, the same when the same files are compiled again."""
    digest = set_digest(compiled(grafana=GRAFANA))
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert digest == set_digest(compiled(grafana=GRAFANA))


def test_comments_file_names_and_host_order_do_not_change_the_digest() -> None:
    """Replicas that read the same rules from differently laid-out files report one digest."""
    relaid = "# owned by the SRE team\n" + GRAFANA.replace(
        "[grafana.example.com, dash.example.com]", "[dash.example.com, grafana.example.com]"
    )
    assert set_digest(compiled(dashboards=relaid)) == set_digest(compiled(grafana=GRAFANA))


def test_editing_a_selector_changes_the_digest() -> None:
    """Who a policy lets in is part of the digest."""
    edited = GRAFANA.replace("{group: sre}", "{group: contractors}")
    assert set_digest(compiled(grafana=edited)) != set_digest(compiled(grafana=GRAFANA))


def test_editing_an_approval_block_changes_the_digest() -> None:
    """A longer maximum duration is a different set."""
    edited = GRAFANA.replace("max_duration: 8h", "max_duration: 9h")
    assert set_digest(compiled(grafana=edited)) != set_digest(compiled(grafana=GRAFANA))


def test_reordering_policies_changes_the_digest() -> None:
    """Order decides (first match wins), so it counts."""
    app = compiled(grafana=GRAFANA).applications["grafana"]
    swapped = PolicySet.of([replace(app, policies=tuple(reversed(app.policies)))])
    assert set_digest(swapped) != set_digest(compiled(grafana=GRAFANA))


def test_an_added_application_is_named() -> None:
    """The wiki appears: added, and nothing else changed."""
    changes = set_changes(compiled(grafana=GRAFANA), compiled(grafana=GRAFANA, wiki=WIKI))
    assert changes == SetChanges(applications_added=("wiki",))


def test_a_removed_application_is_named() -> None:
    """The wiki goes: removed; its policies are not listed one by one."""
    changes = set_changes(compiled(grafana=GRAFANA, wiki=WIKI), compiled(grafana=GRAFANA))
    assert changes == SetChanges(applications_removed=("wiki",))


def test_added_removed_and_changed_policies_are_named_under_their_application() -> None:
    """Renaming one policy and editing the other: grafana changed, one policy gone, one new,
    one edited, each as `application/policy`."""
    edited = GRAFANA.replace("SRE on managed devices", "SRE anywhere").replace("8h", "4h")
    changes = set_changes(compiled(grafana=GRAFANA), compiled(grafana=edited))
    assert changes == SetChanges(
        applications_changed=("grafana",),
        policies_added=("grafana/SRE anywhere",),
        policies_removed=("grafana/SRE on managed devices",),
        policies_changed=("grafana/Engineers, second opinion required",),
    )


def test_a_new_host_changes_the_application_but_no_policy() -> None:
    """Where an application lives is the application's, not its policies'."""
    edited = GRAFANA.replace("dash.example.com", "metrics.example.com")
    changes = set_changes(compiled(grafana=GRAFANA), compiled(grafana=edited))
    assert changes == SetChanges(applications_changed=("grafana",))


@given(order=st.permutations(["grafana", "wiki"]))
def test_an_unchanged_set_has_no_changes_and_the_same_digest(order: list[str]) -> None:
    """Whatever order the files are read in, the same rules are the same set."""
    texts = {"grafana": GRAFANA, "wiki": WIKI}
    again = compiled(**{name: texts[name] for name in order})
    before = compiled(grafana=GRAFANA, wiki=WIKI)
    assert set_changes(before, again) == SetChanges()
    assert set_digest(again) == set_digest(before)

"""The `group` selector: the user is in at least one of the groups (exact, case-sensitive)."""

from __future__ import annotations

import pytest

from app.core.context import Identity
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.group import compile_group
from tests.core.personas import ALICE, BOB, MALLORY, NOW, request


def test_group_matches_a_member() -> None:
    """`group: sre` matches BOB."""
    assert compile_group("sre").test(request(BOB), NOW)


def test_group_does_not_match_a_non_member() -> None:
    """`group: sre` does not match ALICE the engineer."""
    assert not compile_group("sre").test(request(ALICE), NOW)


def test_group_list_needs_only_one_membership() -> None:
    """`group: [sre, engineers]` matches ALICE (engineers) and BOB (sre) but not MALLORY."""
    rule = compile_group(["sre", "engineers"])
    assert rule.test(request(ALICE), NOW)
    assert rule.test(request(BOB), NOW)
    assert not rule.test(request(MALLORY), NOW)


def test_group_is_case_sensitive() -> None:
    """`SRE` is a different group from `sre`."""
    assert not compile_group("SRE").test(request(BOB), NOW)


def test_group_is_not_a_prefix_match() -> None:
    """`sre-lead` does not match membership of `sre-leads`."""
    assert not compile_group("sre-lead").test(request(BOB), NOW)


def test_group_strips_surrounding_whitespace() -> None:
    """`" sre "` in a policy is the group `sre`."""
    assert compile_group(" sre ").test(request(BOB), NOW)


def test_group_never_matches_anonymous_or_groupless() -> None:
    """No identity, or an identity with no groups, matches no group rule."""
    rule = compile_group("sre")
    assert not rule.test(request(None), NOW)
    assert not rule.test(request(Identity("u-nobody", email="n@example.com")), NOW)


def test_group_reasons() -> None:
    """The rule reports `groups-ok` / `groups-not-allowed`."""
    rule = compile_group("sre")
    assert (rule.ok, rule.fail) == (Reason.GROUPS_OK, Reason.GROUPS_NOT_ALLOWED)


def test_group_blank_entry_is_located() -> None:
    """A blank group name in a list is an error at its index."""
    with pytest.raises(SelectorError) as info:
        compile_group(["sre", "  "])
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "[1]")


@pytest.mark.parametrize("value", [[], {"name": "sre"}, None, 7])
def test_group_rejects_non_lists(value: object) -> None:
    """An empty list, a mapping, null or a number is not a group list."""
    with pytest.raises(SelectorError) as info:
        compile_group(value)
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "")

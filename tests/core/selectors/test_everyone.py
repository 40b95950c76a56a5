"""The `everyone` selector: matches any caller; only `true` is accepted."""

from __future__ import annotations

import pytest

from app.core.reasons import Reason
from app.core.selectors import REGISTRY, SelectorError
from app.core.selectors.everyone import compile_everyone
from tests.core.personas import ALICE, MALLORY, NOW, request


def test_everyone_matches_a_signed_in_user() -> None:
    """`everyone: true` matches ALICE."""
    assert compile_everyone(True).test(request(ALICE), NOW)


def test_everyone_matches_a_contractor_too() -> None:
    """`everyone: true` makes no distinction between people: MALLORY matches as well."""
    assert compile_everyone(True).test(request(MALLORY), NOW)


def test_everyone_predicate_matches_an_anonymous_caller() -> None:
    """The predicate itself ignores identity; restricting to signed-in users is the evaluator's."""
    assert compile_everyone(True).test(request(None), NOW)


def test_everyone_reports_everyone_ok() -> None:
    """The rule carries the `everyone-ok` reason and renders as written."""
    rule = compile_everyone(True)
    assert (rule.kind, rule.text, rule.ok) == ("everyone", "everyone: true", Reason.EVERYONE_OK)


def test_everyone_false_is_refused() -> None:
    """`everyone: false` would never match, so it is an error rather than a dead rule."""
    with pytest.raises(SelectorError) as info:
        compile_everyone(False)
    assert (info.value.code, info.value.at) == ("policy.bad_value", "")


@pytest.mark.parametrize("value", ["yes", "true", 1, None, [True]])
def test_everyone_accepts_only_the_boolean_true(value: object) -> None:
    """Truthy look-alikes (`"yes"`, `1`, `[true]`) are refused."""
    with pytest.raises(SelectorError) as info:
        compile_everyone(value)
    assert info.value.code == "policy.bad_value"


def test_everyone_is_registered_by_name() -> None:
    """The policy language finds the kind under `everyone`."""
    assert REGISTRY["everyone"].compile is compile_everyone

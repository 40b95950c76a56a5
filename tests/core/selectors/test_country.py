"""The `country` selector: the client's ISO 3166-1 alpha-2 country from a trusted signal."""

from __future__ import annotations

import pytest

from app.core.decision import NO_GRANTS, Effect
from app.core.policy.evaluate import evaluate
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.country import compile_country
from tests.core.personas import ALICE, NOW, compile_errors, compile_texts, request


def test_country_matches_a_listed_country() -> None:
    """`country: [KP, IR, RU]` matches a client in RU."""
    assert compile_country(["KP", "IR", "RU"]).test(request(ALICE, country="RU"), NOW)


def test_country_does_not_match_an_unlisted_country() -> None:
    """`country: [KP, IR, RU]` does not match a client in FR."""
    assert not compile_country(["KP", "IR", "RU"]).test(request(ALICE, country="FR"), NOW)


def test_country_codes_in_policy_are_case_insensitive() -> None:
    """`country: ru` is the same rule as `country: RU`."""
    assert compile_country("ru").test(request(ALICE, country="RU"), NOW)


def test_country_unknown_client_country_matches_no_list() -> None:
    """Without a country signal the client is in no listed country."""
    assert not compile_country(["FR", "DE"]).test(request(ALICE, country=None), NOW)


def test_country_reasons() -> None:
    """The rule reports `country-ok` / `country-not-allowed`."""
    rule = compile_country("FR")
    assert (rule.ok, rule.fail) == (Reason.COUNTRY_OK, Reason.COUNTRY_NOT_ALLOWED)


def test_country_unknown_code_is_an_error() -> None:
    """XX is not an assigned ISO 3166-1 code."""
    with pytest.raises(SelectorError) as info:
        compile_country(["FR", "XX"])
    assert (info.value.code, info.value.at) == ("policy.bad_country", "[1]")


@pytest.mark.parametrize("value", ["France", "FRA", "F"])
def test_country_names_and_alpha3_are_refused(value: str) -> None:
    """Only alpha-2 codes are accepted, not names or alpha-3."""
    with pytest.raises(SelectorError) as info:
        compile_country(value)
    assert (info.value.code, info.value.at) == ("policy.bad_country", "")


def test_country_boolean_in_list_explains_the_norway_case() -> None:
    """A boolean (YAML 1.1's reading of NO) is refused with a hint to quote it."""
    with pytest.raises(SelectorError, match="quote it") as info:
        compile_country(["SE", False])
    assert (info.value.code, info.value.at) == ("policy.bad_country", "[1]")


def test_country_scalar_boolean_is_located_at_the_selector() -> None:
    """`country: false` is refused at the selector itself."""
    with pytest.raises(SelectorError) as info:
        compile_country(False)
    assert (info.value.code, info.value.at) == ("policy.bad_country", "")


def test_country_number_in_list_is_refused() -> None:
    """A number is not a country code."""
    with pytest.raises(SelectorError) as info:
        compile_country(["FR", 33])
    assert (info.value.code, info.value.at) == ("policy.bad_country", "[1]")


def test_country_empty_list_is_refused() -> None:
    """An empty list would match nobody."""
    with pytest.raises(SelectorError) as info:
        compile_country([])
    assert info.value.code == "policy.wrong_type"


_NORWAY = """\
application: {id: nordic, hosts: [nordic.example.com]}
policies:
  - name: Norway only
    action: allow
    include: [{everyone: true}]
    require: [{country: [NO, SE]}]
"""


def test_country_unquoted_no_in_yaml_is_norway() -> None:
    """Policy files read `NO` as the string (YAML 1.2), so a client in Norway is allowed."""
    policy_set = compile_texts(_NORWAY)
    ctx = request(ALICE, host="nordic.example.com", country="NO")
    assert evaluate(policy_set, ctx, grants=NO_GRANTS, now=NOW).effect is Effect.ALLOW


def test_country_yaml_boolean_gives_a_located_error() -> None:
    """`country: [false]` in a file is a located bad_country error with the quoting hint."""
    (error,) = compile_errors(_NORWAY.replace("[NO, SE]", "[SE, false]"))
    assert error.code == "policy.bad_country"
    assert error.path == "$.policies[0].require[0].country[1]"
    assert (error.line, error.column) == (6, 30)
    assert "quote it" in error.message

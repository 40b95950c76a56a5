"""The JSON Schema of an application file: generated, in sync, and strict about keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.cli import main
from app.core.policy import compile as compile_module
from app.core.policy.schema import policy_schema, policy_schema_json
from app.core.policy.source import load_located
from app.core.reasons import Reason
from app.core.selectors import REGISTRY, SelectorKind
from app.core.selectors.base import Rule

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "policy_rules" / "schema.json"
EXAMPLES = sorted((ROOT / "policy_rules" / "apps").glob("**/*.yaml"))
GOOD: dict[str, Any] = {
    "application": {"id": "wiki", "hosts": ["wiki.example.com"]},
    "policies": [{"name": "Staff", "action": "allow", "include": [{"group": "staff"}]}],
}


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(policy_schema())


def _errors(document: Any) -> list[str]:
    return [error.json_path for error in _validator().iter_errors(document)]


def test_checked_in_schema_is_up_to_date() -> None:
    """policy_rules/schema.json is exactly what the code generates."""
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    assert current == policy_schema_json(), (
        "policy_rules/schema.json is stale: run `make schema` and commit the result"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The generated document passes the metaschema."""
    schema = policy_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_text_is_deterministic() -> None:
    """Two generations are identical, keys sorted, with a trailing newline."""
    text = policy_schema_json()
    assert text == policy_schema_json()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_application_validates(path: Path) -> None:
    """Each shipped application file is valid against the schema (read as the compiler reads)."""
    located, errors = load_located(path.name, path.read_text(encoding="utf-8"))
    assert located is not None, errors
    assert _errors(located.value) == []


def test_a_minimal_file_validates() -> None:
    """An application with one allow policy is valid."""
    assert _errors(GOOD) == []


def test_an_unknown_top_level_key_fails() -> None:
    """A misspelled top-level key is rejected."""
    assert _errors({**GOOD, "polices": []}) == ["$"]


def test_an_unknown_policy_key_fails() -> None:
    """`requires` (for `require`) inside a policy is rejected at that policy."""
    policy = {**GOOD["policies"][0], "requires": [{"group": "x"}]}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0]"]


def test_an_unknown_selector_fails() -> None:
    """`{grup: sre}` is not a selector."""
    policy = {**GOOD["policies"][0], "include": [{"grup": "sre"}]}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0].include[0]"]


def test_a_selector_with_two_keys_fails() -> None:
    """A selector names exactly one kind."""
    policy = {**GOOD["policies"][0], "include": [{"group": "sre", "email": "a@b.c"}]}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0].include[0]"]


def test_an_empty_include_fails() -> None:
    """`include: []` is refused, as the compiler refuses it."""
    policy = {**GOOD["policies"][0], "include": []}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0].include"]


def test_approval_on_a_block_policy_fails() -> None:
    """Only allow policies take justification or approval."""
    policy = {
        "name": "x",
        "action": "block",
        "include": [{"everyone": True}],
        "approval": {"approvers": [{"group": "sre"}]},
    }
    assert _errors({**GOOD, "policies": [policy]}) != []


def test_a_bad_duration_fails() -> None:
    """Durations are a number and one of s, m, h, d."""
    approval = {"approvers": [{"group": "sre"}], "max_duration": "2 hours"}
    policy = {**GOOD["policies"][0], "approval": approval}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0].approval.max_duration"]


def test_an_approver_count_needs_a_group() -> None:
    """`required` belongs to group approvers only."""
    approval = {"approvers": [{"email": "cto@example.com", "required": 1}]}
    policy = {**GOOD["policies"][0], "approval": approval}
    assert _errors({**GOOD, "policies": [policy]}) == ["$.policies[0].approval.approvers[0]"]


@pytest.mark.parametrize(
    ("definition", "keys"),
    [
        ("$", compile_module.APP_KEYS),
        ("application", compile_module.APPLICATION_KEYS),
        ("policy", compile_module.POLICY_KEYS),
        ("justification", compile_module.JUSTIFICATION_KEYS),
        ("approval", compile_module.APPROVAL_KEYS),
        ("approver", compile_module.APPROVER_KEYS),
    ],
)
def test_properties_are_the_compilers_keys(definition: str, keys: tuple[str, ...]) -> None:
    """Each object allows exactly the keys the compiler accepts."""
    schema = policy_schema()
    node = schema if definition == "$" else schema["$defs"][definition]
    assert set(node["properties"]) == set(keys)


def test_every_registered_selector_is_in_the_schema() -> None:
    """The selector definition lists every registered kind."""
    assert set(policy_schema()["$defs"]["selector"]["properties"]) == set(REGISTRY)


def test_a_newly_registered_selector_appears_without_editing_the_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Registering a kind is enough for it to show up, with its summary as description."""
    kind = SelectorKind(
        name="weather",
        schema={"enum": ["sunny", "rainy"]},
        compile=lambda _v: Rule("weather", "", lambda _c, _n: True, Reason.TIME_OK, Reason.TIME_OK),
        summary="the sky looks like this",
    )
    monkeypatch.setitem(REGISTRY, "weather", kind)
    selector = policy_schema()["$defs"]["selector"]["properties"]["weather"]
    assert selector == {"enum": ["sunny", "rainy"], "description": "the sky looks like this"}


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`countersign policy schema` prints the same text as policy_schema_json()."""
    assert main(["policy", "schema"]) == 0
    assert capsys.readouterr().out == policy_schema_json()


def test_schema_command_writes_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--write FILE` writes the schema there and says so."""
    target = tmp_path / "schema.json"
    assert main(["policy", "schema", "--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == policy_schema_json()
    assert capsys.readouterr().out.startswith("wrote ")


def test_schema_command_reports_an_unwritable_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Writing into a missing folder exits 1 with one line, no traceback."""
    assert main(["policy", "schema", "--write", str(tmp_path / "no" / "schema.json")]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err
    assert "Traceback" not in err

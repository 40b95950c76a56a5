"""Compiling a policy's `include` / `require` / `exclude` lists into registered selector Rules.

Equal selectors, within a file or across files, compile once and share one Rule.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_checks import Checker
from app.core.policy.errors import did_you_mean
from app.core.selectors import REGISTRY, Rule, SelectorError


def compile_rules(check: Checker, raw: Any, path: str, *, required: bool) -> tuple[Rule, ...]:
    """One selector list; `required` (include) refuses an absent or empty list."""
    if raw is None:
        if required:
            check.fail(
                path,
                PolicyErrorCode.POLICY_EMPTY_INCLUDE,
                "include may not be empty; write [{everyone: true}] to match everyone",
            )
        return ()
    if not isinstance(raw, list):
        check.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, "expected a list of selectors")
        return ()
    if not raw and required:
        check.fail(
            path,
            PolicyErrorCode.POLICY_EMPTY_INCLUDE,
            "include may not be empty; write [{everyone: true}] to match everyone",
        )
    rules: list[Rule] = []
    for i, item in enumerate(raw):
        rule = _rule(check, item, f"{path}[{i}]")
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(check: Checker, item: Any, path: str) -> Rule | None:
    """One `{kind: value}` selector, compiled by its registered kind (or the shared copy)."""
    if not isinstance(item, dict) or len(item) != 1:
        check.fail(
            path,
            PolicyErrorCode.POLICY_SELECTOR_SHAPE,
            "a selector is a mapping with exactly one key, e.g. {group: sre}",
        )
        return None
    ((kind_name, value),) = item.items()
    kind = REGISTRY.get(kind_name)
    if kind is None:
        check.fail(
            f"{path}.{kind_name}",
            PolicyErrorCode.POLICY_UNKNOWN_SELECTOR,
            f"unknown selector '{kind_name}'{did_you_mean(kind_name, REGISTRY)}",
        )
        return None
    try:
        key = (kind_name, _rule_key(value))
        hash(key)
    except TypeError:  # e.g. a YAML !!set; compile it without sharing
        key = None
    if key is not None and key in check.rules:
        return check.rules[key]
    try:
        rule = kind.compile(value)
    except SelectorError as exc:
        check.fail(f"{path}.{kind_name}{exc.at}", exc.code, exc.message)
        return None
    if key is not None:
        check.rules[key] = rule
    return rule


def _rule_key(value: Any) -> Hashable:
    """A hashable, type-exact form of a selector value. Applications that repeat a selector
    (the contractors block, a device requirement) then share one Rule, which keeps a large
    policy set's hot path small enough to stay in the CPU caches."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _rule_key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_rule_key(v) for v in value))
    return (type(value).__name__, value)

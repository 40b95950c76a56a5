"""Compiling one policy file: its `application` block and its ordered `policies`.

The second-opinion blocks and the selector lists are delegated to their own modules; what is
checked here is the file's shape, the application's id, hosts and paths, and each policy's
name and action.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.paths import PathError, normalize_path
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.compile_approval import compile_approval, compile_justification
from app.core.policy.compile_checks import Checker
from app.core.policy.compile_emergency import add_escalation, compile_break_glass
from app.core.policy.compile_selectors import compile_rules
from app.core.policy.errors import did_you_mean
from app.core.policy.fingerprint import with_fingerprint
from app.core.policy.model import Action, Application, Policy

APP_KEYS = ("application", "policies")
APPLICATION_KEYS = ("id", "name", "hosts", "paths", "description")
POLICY_KEYS = (
    "name",
    "action",
    "include",
    "require",
    "exclude",
    "justification",
    "approval",
    "break_glass",
)

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOST = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)


def compile_application(check: Checker) -> Application | None:
    """The checker's document as an Application, or None once any problem is recorded."""
    root = check.doc.value
    if not isinstance(root, dict):
        check.fail(
            "$",
            PolicyErrorCode.YAML_NOT_A_MAPPING,
            "a policy file must be a mapping with 'application' and 'policies'",
        )
        return None
    check.mapping(root, "$", APP_KEYS, "a policy file")
    raw_meta = check.required(root, "application", "$", "a policy file")
    has_meta = isinstance(raw_meta, dict)
    meta = (
        check.mapping(raw_meta, "$.application", APPLICATION_KEYS, "application")
        if raw_meta is not None
        else {}
    )
    app_id = _app_id(check, meta) if has_meta else None
    name = meta.get("name", app_id)
    if "name" in meta:
        name = check.string(meta["name"], "$.application.name", "the application name")
    hosts = _hosts(check, meta) if has_meta else ()
    paths = _paths(check, meta) if has_meta else ()
    policies = _policies(check, check.required(root, "policies", "$", "a policy file"))
    if not check.ok or app_id is None or not isinstance(name, str):
        return None
    # Fingerprinted here, once per load: the hot path only compares the strings.
    bound = tuple(with_fingerprint(app_id, policy) for policy in policies)
    return Application(app_id, name, hosts, paths, bound, check.doc.file)


def _policies(check: Checker, raw_policies: Any) -> list[Policy]:
    """The `policies` list in order, refusing a name used twice."""
    policies: list[Policy] = []
    if raw_policies is None:
        return policies
    if not isinstance(raw_policies, list) or not raw_policies:
        check.fail(
            "$.policies",
            PolicyErrorCode.POLICY_WRONG_TYPE,
            "policies must be a non-empty list",
        )
        return policies
    names: set[str] = set()
    for i, raw in enumerate(raw_policies):
        policy = _policy(check, raw, f"$.policies[{i}]", i)
        if policy is not None:
            if policy.name in names:
                check.fail(
                    f"$.policies[{i}].name",
                    PolicyErrorCode.POLICY_DUPLICATE_POLICY,
                    f"policy name '{policy.name}' is used twice",
                )
            names.add(policy.name)
            policies.append(policy)
    return policies


def _app_id(check: Checker, meta: dict[str, Any]) -> str | None:
    """The application id: short, lower-case, safe in keys and URLs."""
    raw = check.required(meta, "id", "$.application", "application")
    if raw is None:
        return None
    if not isinstance(raw, str) or not _ID.match(raw):
        check.fail(
            "$.application.id",
            PolicyErrorCode.POLICY_BAD_ID,
            "id must be 1-63 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit",
        )
        return None
    return raw


def _hosts(check: Checker, meta: dict[str, Any]) -> tuple[str, ...]:
    """The host names, lower-cased without a trailing dot; a wildcard only as `*.`."""
    raw = check.required(meta, "hosts", "$.application", "application")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        check.fail(
            "$.application.hosts",
            PolicyErrorCode.POLICY_WRONG_TYPE,
            "hosts must be a non-empty list",
        )
        return ()
    hosts: list[str] = []
    for i, host in enumerate(raw):
        path = f"$.application.hosts[{i}]"
        if (
            not isinstance(host, str)
            or not _HOST.match(host.lower().rstrip("."))
            or len(host) > 253
        ):
            check.fail(
                path,
                PolicyErrorCode.POLICY_BAD_HOST,
                f"'{host}' is not a host name; use 'app.example.com' or '*.example.com' "
                "(no scheme, port or path)",
            )
            continue
        hosts.append(host.lower().rstrip("."))
    if len(set(hosts)) != len(hosts):
        check.fail("$.application.hosts", PolicyErrorCode.POLICY_BAD_HOST, "a host is listed twice")
    return tuple(hosts)


def _paths(check: Checker, meta: dict[str, Any]) -> tuple[str, ...]:
    """The path prefixes, which must already be in normal form (what the hot path compares)."""
    raw = meta.get("paths", ["/"])
    if not isinstance(raw, list) or not raw:
        check.fail(
            "$.application.paths",
            PolicyErrorCode.POLICY_WRONG_TYPE,
            "paths must be a non-empty list",
        )
        return ()
    paths: list[str] = []
    for i, item in enumerate(raw):
        path = f"$.application.paths[{i}]"
        if not isinstance(item, str) or not item.startswith("/") or any(c in item for c in "?#*"):
            check.fail(
                path,
                PolicyErrorCode.POLICY_BAD_PATH,
                f"'{item}' is not a path prefix; it must start with '/' and hold no "
                "query, fragment or wildcard",
            )
            continue
        try:
            normal = normalize_path(item)
        except PathError as exc:
            check.fail(
                path,
                PolicyErrorCode.POLICY_BAD_PATH,
                f"'{item}' is not a clean path prefix: {exc}",
            )
            continue
        if normal != "/" and normal.endswith("/"):
            normal = normal.rstrip("/")
        if normal != item.rstrip("/") and item != "/":
            check.fail(
                path,
                PolicyErrorCode.POLICY_BAD_PATH,
                f"'{item}' is not in normal form; write '{normal}'",
            )
            continue
        paths.append(normal)
    if len(set(paths)) != len(paths):
        check.fail("$.application.paths", PolicyErrorCode.POLICY_BAD_PATH, "a path is listed twice")
    return tuple(paths)


def _policy(check: Checker, raw: Any, path: str, index: int) -> Policy | None:
    """One policy; its own problems do not hide the next policy's (each starts `ok`)."""
    before = check.ok
    check.ok = True
    body = check.mapping(raw, path, POLICY_KEYS, "a policy")
    result = _policy_body(check, body, path, index) if isinstance(raw, dict) else None
    check.ok = before and check.ok
    return result


def _policy_body(check: Checker, body: dict[str, Any], path: str, index: int) -> Policy | None:
    """A policy mapping's name, action, selector lists and second-opinion blocks."""
    name = None
    if check.required(body, "name", path, "a policy") is not None:
        name = check.string(body["name"], f"{path}.name", "the policy name")
    action = _action(check, check.required(body, "action", path, "a policy"), path)
    include = compile_rules(check, body.get("include"), f"{path}.include", required=True)
    require = compile_rules(check, body.get("require"), f"{path}.require", required=False)
    exclude = compile_rules(check, body.get("exclude"), f"{path}.exclude", required=False)
    justification = approval = None
    if "justification" in body:
        justification = compile_justification(check, body["justification"], f"{path}.justification")
    if "approval" in body:
        approval = compile_approval(check, body["approval"], f"{path}.approval")
        approval = add_escalation(check, body["approval"], approval, f"{path}.approval")
    break_glass = None
    if "break_glass" in body:
        break_glass = compile_break_glass(
            check,
            body["break_glass"],
            f"{path}.break_glass",
            approval=approval,
            has_approval="approval" in body,
        )
    if action is not None and action is not Action.ALLOW:
        for key in ("justification", "approval", "break_glass"):
            if key in body:
                check.fail(
                    f"{path}.{key}",
                    PolicyErrorCode.POLICY_ACTION_CONFLICT,
                    f"'{key}' only applies to allow policies, not {action.value}",
                )
    if not check.ok or action is None or not isinstance(name, str):
        return None
    return Policy(
        name,
        index,
        action,
        include,
        require,
        exclude,
        justification,
        approval,
        break_glass=break_glass,
    )


def _action(check: Checker, action_raw: Any, path: str) -> Action | None:
    """The policy's action, or None (reported, with a suggestion) when it is not one."""
    if action_raw is None:
        return None
    try:
        return Action(action_raw)
    except ValueError:
        choices = [a.value for a in Action]
        check.fail(
            f"{path}.action",
            PolicyErrorCode.POLICY_BAD_ACTION,
            f"unknown action '{action_raw}'{did_you_mean(str(action_raw), choices)}; "
            "use allow, block or bypass",
        )
        return None

"""Compile policy files into a PolicySet, collecting every error with its place."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.core.durations import DurationError, parse_duration
from app.core.paths import PathError, normalize_path
from app.core.policy.codes import PolicyErrorCode
from app.core.policy.errors import PolicyCompileError, PolicyError, did_you_mean
from app.core.policy.fingerprint import with_fingerprint
from app.core.policy.model import (
    Action,
    Application,
    Approval,
    Approver,
    Justification,
    Policy,
    ReviewerRequirement,
)
from app.core.policy.policy_set import PolicySet
from app.core.policy.source import Located, load_located
from app.core.selectors import REGISTRY, Rule, SelectorError

APP_KEYS = ("application", "policies")
APPLICATION_KEYS = ("id", "name", "hosts", "paths", "description")
POLICY_KEYS = ("name", "action", "include", "require", "exclude", "justification", "approval")
JUSTIFICATION_KEYS = (
    "required",
    "prompt",
    "min_length",
    "max_length",
    "pattern",
    "session_duration",
)
APPROVAL_KEYS = (
    "approvers",
    "approvals_required",
    "default_duration",
    "max_duration",
    "pending_ttl",
    "reviewers_need",
)
REVIEWERS_NEED_KEYS = ("mfa", "max_auth_age")
APPROVER_KEYS = ("group", "email", "required")

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_HOST = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)

DEFAULT_PROMPT = "Why do you need access?"
DEFAULT_MIN_LENGTH = 10
DEFAULT_MAX_LENGTH = 2000
HARD_MAX_LENGTH = 10_000
DEFAULT_SESSION = timedelta(hours=8)
DEFAULT_GRANT = timedelta(hours=1)
DEFAULT_PENDING_TTL = timedelta(hours=24)
#: `reviewers_need.max_auth_age` bounds: under a minute no sign-in survives the walk from the
#: identity provider to the approve button; over a day it no longer means "recently".
MIN_AUTH_AGE = timedelta(minutes=1)
MAX_AUTH_AGE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Source:
    """One policy file's name (as shown in errors) and text."""

    file: str
    text: str


def compile_policy_set(sources: Sequence[Source]) -> PolicySet:
    """Compile every file; raise PolicyCompileError with all errors if any file is wrong."""
    errors: list[PolicyError] = []
    rules: dict[Hashable, Rule] = {}  # equal selectors share one compiled Rule
    apps: list[Application] = []
    first_seen: dict[str, str] = {}
    routes: dict[tuple[str, str], str] = {}
    for source in sources:
        located, load_errors = load_located(source.file, source.text)
        errors.extend(load_errors)
        if located is None:
            continue
        checker = _Checker(located, errors, rules)
        app = checker.application()
        if app is None:
            continue
        if app.id in first_seen:
            errors.append(
                located.error(
                    "$.application.id",
                    PolicyErrorCode.POLICY_DUPLICATE_APPLICATION,
                    f"application id '{app.id}' is already used by {first_seen[app.id]}",
                )
            )
            continue
        first_seen[app.id] = source.file
        clash = False
        for host in app.hosts:
            for path in app.paths:
                owner = routes.get((host, path))
                if owner is not None:
                    clash = True
                    errors.append(
                        located.error(
                            "$.application.hosts",
                            PolicyErrorCode.POLICY_CONFLICTING_ROUTE,
                            f"{host}{path} is already claimed by application '{owner}'",
                        )
                    )
                routes.setdefault((host, path), app.id)
        if not clash:
            apps.append(app)
    if errors:
        raise PolicyCompileError(errors)
    return PolicySet.of(apps)


class _Checker:
    """Walks one located document, building the model and recording every problem."""

    def __init__(
        self,
        located: Located,
        errors: list[PolicyError],
        rules: dict[Hashable, Rule] | None = None,
    ) -> None:
        self.doc = located
        self.errors = errors
        self.rules = {} if rules is None else rules
        self.ok = True

    def fail(self, path: str, code: PolicyErrorCode, message: str) -> None:
        self.ok = False
        self.errors.append(self.doc.error(path, code, message))

    # -- generic shape checks -------------------------------------------------------------
    def mapping(self, value: Any, path: str, keys: Sequence[str], what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, f"{what} must be a mapping")
            return {}
        for key in value:
            if key not in keys:
                self.fail(
                    f"{path}.{key}",
                    PolicyErrorCode.POLICY_UNKNOWN_KEY,
                    f"unknown key '{key}' in {what}{did_you_mean(key, keys)}",
                )
        return value

    def required(self, value: dict[str, Any], key: str, path: str, what: str) -> Any:
        if key not in value:
            self.fail(path, PolicyErrorCode.POLICY_MISSING_KEY, f"{what} needs '{key}'")
            return None
        if value[key] is None:  # `key:` left empty must not read as "absent, skip it"
            self.fail(
                f"{path}.{key}",
                PolicyErrorCode.POLICY_MISSING_KEY,
                f"{what} needs '{key}' (it is empty)",
            )
            return None
        return value[key]

    def string(self, value: Any, path: str, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, f"{what} must be a non-empty string")
            return None
        return value.strip()

    def integer(self, value: Any, path: str, what: str, *, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(
                path,
                PolicyErrorCode.POLICY_BAD_VALUE,
                f"{what} must be a whole number from {low} to {high}",
            )
            return None
        return value

    def duration(self, value: Any, path: str, default: timedelta) -> timedelta | None:
        if value is None:
            return default
        try:
            return parse_duration(value if isinstance(value, str) else repr(value))
        except DurationError as exc:
            self.fail(path, PolicyErrorCode.POLICY_BAD_DURATION, str(exc))
            return None

    # -- the document ---------------------------------------------------------------------
    def application(self) -> Application | None:
        root = self.doc.value
        if not isinstance(root, dict):
            self.fail(
                "$",
                PolicyErrorCode.YAML_NOT_A_MAPPING,
                "a policy file must be a mapping with 'application' and 'policies'",
            )
            return None
        self.mapping(root, "$", APP_KEYS, "a policy file")
        raw_meta = self.required(root, "application", "$", "a policy file")
        has_meta = isinstance(raw_meta, dict)
        meta = (
            self.mapping(raw_meta, "$.application", APPLICATION_KEYS, "application")
            if raw_meta is not None
            else {}
        )
        app_id = self._app_id(meta) if has_meta else None
        name = meta.get("name", app_id)
        if "name" in meta:
            name = self.string(meta["name"], "$.application.name", "the application name")
        hosts = self._hosts(meta) if has_meta else ()
        paths = self._paths(meta) if has_meta else ()
        raw_policies = self.required(root, "policies", "$", "a policy file")
        policies: list[Policy] = []
        if raw_policies is not None:
            if not isinstance(raw_policies, list) or not raw_policies:
                self.fail(
                    "$.policies",
                    PolicyErrorCode.POLICY_WRONG_TYPE,
                    "policies must be a non-empty list",
                )
            else:
                names: set[str] = set()
                for i, raw in enumerate(raw_policies):
                    policy = self._policy(raw, f"$.policies[{i}]", i)
                    if policy is not None:
                        if policy.name in names:
                            self.fail(
                                f"$.policies[{i}].name",
                                PolicyErrorCode.POLICY_DUPLICATE_POLICY,
                                f"policy name '{policy.name}' is used twice",
                            )
                        names.add(policy.name)
                        policies.append(policy)
        if not self.ok or app_id is None or not isinstance(name, str):
            return None
        # Fingerprinted here, once per load: the hot path only compares the strings.
        bound = tuple(with_fingerprint(app_id, policy) for policy in policies)
        return Application(app_id, name, hosts, paths, bound, self.doc.file)

    def _app_id(self, meta: dict[str, Any]) -> str | None:
        raw = self.required(meta, "id", "$.application", "application")
        if raw is None:
            return None
        if not isinstance(raw, str) or not _ID.match(raw):
            self.fail(
                "$.application.id",
                PolicyErrorCode.POLICY_BAD_ID,
                "id must be 1-63 lower-case letters, digits, '-' or '_', starting with a "
                "letter or digit",
            )
            return None
        return raw

    def _hosts(self, meta: dict[str, Any]) -> tuple[str, ...]:
        raw = self.required(meta, "hosts", "$.application", "application")
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.fail(
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
                self.fail(
                    path,
                    PolicyErrorCode.POLICY_BAD_HOST,
                    f"'{host}' is not a host name; use 'app.example.com' or '*.example.com' "
                    "(no scheme, port or path)",
                )
                continue
            hosts.append(host.lower().rstrip("."))
        if len(set(hosts)) != len(hosts):
            self.fail(
                "$.application.hosts", PolicyErrorCode.POLICY_BAD_HOST, "a host is listed twice"
            )
        return tuple(hosts)

    def _paths(self, meta: dict[str, Any]) -> tuple[str, ...]:
        raw = meta.get("paths", ["/"])
        if not isinstance(raw, list) or not raw:
            self.fail(
                "$.application.paths",
                PolicyErrorCode.POLICY_WRONG_TYPE,
                "paths must be a non-empty list",
            )
            return ()
        paths: list[str] = []
        for i, item in enumerate(raw):
            path = f"$.application.paths[{i}]"
            if (
                not isinstance(item, str)
                or not item.startswith("/")
                or any(c in item for c in "?#*")
            ):
                self.fail(
                    path,
                    PolicyErrorCode.POLICY_BAD_PATH,
                    f"'{item}' is not a path prefix; it must start with '/' and hold no "
                    "query, fragment or wildcard",
                )
                continue
            try:
                normal = normalize_path(item)
            except PathError as exc:
                self.fail(
                    path,
                    PolicyErrorCode.POLICY_BAD_PATH,
                    f"'{item}' is not a clean path prefix: {exc}",
                )
                continue
            if normal != "/" and normal.endswith("/"):
                normal = normal.rstrip("/")
            if normal != item.rstrip("/") and item != "/":
                self.fail(
                    path,
                    PolicyErrorCode.POLICY_BAD_PATH,
                    f"'{item}' is not in normal form; write '{normal}'",
                )
                continue
            paths.append(normal)
        if len(set(paths)) != len(paths):
            self.fail(
                "$.application.paths", PolicyErrorCode.POLICY_BAD_PATH, "a path is listed twice"
            )
        return tuple(paths)

    def _policy(self, raw: Any, path: str, index: int) -> Policy | None:
        before = self.ok
        self.ok = True
        body = self.mapping(raw, path, POLICY_KEYS, "a policy")
        result = self._policy_body(body, path, index) if isinstance(raw, dict) else None
        self.ok = before and self.ok
        return result

    def _policy_body(self, body: dict[str, Any], path: str, index: int) -> Policy | None:
        name = None
        if self.required(body, "name", path, "a policy") is not None:
            name = self.string(body["name"], f"{path}.name", "the policy name")
        action_raw = self.required(body, "action", path, "a policy")
        action: Action | None = None
        if action_raw is not None:
            try:
                action = Action(action_raw)
            except ValueError:
                choices = [a.value for a in Action]
                self.fail(
                    f"{path}.action",
                    PolicyErrorCode.POLICY_BAD_ACTION,
                    f"unknown action '{action_raw}'{did_you_mean(str(action_raw), choices)}; "
                    "use allow, block or bypass",
                )
        include = self._rules(body.get("include"), f"{path}.include", required=True)
        require = self._rules(body.get("require"), f"{path}.require", required=False)
        exclude = self._rules(body.get("exclude"), f"{path}.exclude", required=False)
        justification = approval = None
        if "justification" in body:
            justification = self._justification(body["justification"], f"{path}.justification")
        if "approval" in body:
            approval = self._approval(body["approval"], f"{path}.approval")
        if action is not None and action is not Action.ALLOW:
            for key in ("justification", "approval"):
                if key in body:
                    self.fail(
                        f"{path}.{key}",
                        PolicyErrorCode.POLICY_ACTION_CONFLICT,
                        f"'{key}' only applies to allow policies, not {action.value}",
                    )
        if not self.ok or action is None or not isinstance(name, str):
            return None
        return Policy(name, index, action, include, require, exclude, justification, approval)

    def _rules(self, raw: Any, path: str, *, required: bool) -> tuple[Rule, ...]:
        if raw is None:
            if required:
                self.fail(
                    path,
                    PolicyErrorCode.POLICY_EMPTY_INCLUDE,
                    "include may not be empty; write [{everyone: true}] to match everyone",
                )
            return ()
        if not isinstance(raw, list):
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, "expected a list of selectors")
            return ()
        if not raw and required:
            self.fail(
                path,
                PolicyErrorCode.POLICY_EMPTY_INCLUDE,
                "include may not be empty; write [{everyone: true}] to match everyone",
            )
        rules: list[Rule] = []
        for i, item in enumerate(raw):
            rule = self._rule(item, f"{path}[{i}]")
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def _rule(self, item: Any, path: str) -> Rule | None:
        if not isinstance(item, dict) or len(item) != 1:
            self.fail(
                path,
                PolicyErrorCode.POLICY_SELECTOR_SHAPE,
                "a selector is a mapping with exactly one key, e.g. {group: sre}",
            )
            return None
        ((kind_name, value),) = item.items()
        kind = REGISTRY.get(kind_name)
        if kind is None:
            self.fail(
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
        if key is not None and key in self.rules:
            return self.rules[key]
        try:
            rule = kind.compile(value)
        except SelectorError as exc:
            self.fail(f"{path}.{kind_name}{exc.at}", exc.code, exc.message)
            return None
        if key is not None:
            self.rules[key] = rule
        return rule

    def _justification(self, raw: Any, path: str) -> Justification | None:
        body = self.mapping(raw, path, JUSTIFICATION_KEYS, "justification")
        if not isinstance(raw, dict):  # `{}` means "required, with the defaults"
            return None
        if body.get("required", True) is not True:
            self.fail(
                f"{path}.required",
                PolicyErrorCode.POLICY_BAD_VALUE,
                "required must be true; remove the justification block to turn it off",
            )
        prompt = DEFAULT_PROMPT
        if "prompt" in body:
            prompt = self.string(body["prompt"], f"{path}.prompt", "the prompt") or DEFAULT_PROMPT
        min_length = self.integer(
            body.get("min_length", DEFAULT_MIN_LENGTH),
            f"{path}.min_length",
            "min_length",
            low=1,
            high=1000,
        )
        max_length = self.integer(
            body.get("max_length", DEFAULT_MAX_LENGTH),
            f"{path}.max_length",
            "max_length",
            low=1,
            high=HARD_MAX_LENGTH,
        )
        if min_length and max_length and min_length > max_length:
            self.fail(
                f"{path}.min_length",
                PolicyErrorCode.POLICY_BAD_VALUE,
                "min_length is above max_length",
            )
        pattern = None
        if "pattern" in body:
            text = self.string(body["pattern"], f"{path}.pattern", "the pattern")
            if text is not None:
                try:
                    pattern = re.compile(text)
                except re.error as exc:
                    self.fail(
                        f"{path}.pattern",
                        PolicyErrorCode.POLICY_BAD_PATTERN,
                        f"invalid regular expression: {exc}",
                    )
        session = self.duration(
            body.get("session_duration"), f"{path}.session_duration", DEFAULT_SESSION
        )
        if session is None or min_length is None or max_length is None:
            return None
        return Justification(prompt, min_length, max_length, pattern, session)

    def _approval(self, raw: Any, path: str) -> Approval | None:
        body = self.mapping(raw, path, APPROVAL_KEYS, "approval")
        if not isinstance(raw, dict):  # `{}` goes on, to be refused for lacking approvers
            return None
        approvers = self._approvers(
            self.required(body, "approvers", path, "approval"), f"{path}.approvers"
        )
        needed = self.integer(
            body.get("approvals_required", 1),
            f"{path}.approvals_required",
            "approvals_required",
            low=1,
            high=100,
        )
        default = self.duration(
            body.get("default_duration"), f"{path}.default_duration", DEFAULT_GRANT
        )
        maximum = self.duration(
            body.get("max_duration"),
            f"{path}.max_duration",
            default if default is not None else DEFAULT_GRANT,
        )
        pending_ttl = self.duration(
            body.get("pending_ttl"), f"{path}.pending_ttl", DEFAULT_PENDING_TTL
        )
        if default is not None and maximum is not None and default > maximum:
            self.fail(
                f"{path}.default_duration",
                PolicyErrorCode.POLICY_DURATION_ORDER,
                "default_duration is longer than max_duration",
            )
        if needed is not None and approvers:
            has_group = any(a.kind == "group" for a in approvers)
            emails = len({a.value for a in approvers if a.kind == "email"})
            if not has_group and needed > emails:
                self.fail(
                    f"{path}.approvals_required",
                    PolicyErrorCode.POLICY_APPROVALS_EXCEED_APPROVERS,
                    f"approvals_required is {needed} but only {emails} approver(s) can approve",
                )
            per_group = sum(a.required for a in approvers)
            if per_group > needed:
                self.fail(
                    f"{path}.approvals_required",
                    PolicyErrorCode.POLICY_APPROVALS_EXCEED_APPROVERS,
                    f"the approver groups require {per_group} approvals in all, more than "
                    f"approvals_required ({needed})",
                )
        reviewers_need = None
        if "reviewers_need" in body:
            reviewers_need = self._reviewers_need(body["reviewers_need"], f"{path}.reviewers_need")
        if (
            not approvers
            or needed is None
            or default is None
            or maximum is None
            or pending_ttl is None
        ):
            return None
        return Approval(approvers, needed, default, maximum, pending_ttl, reviewers_need)

    def _reviewers_need(self, raw: Any, path: str) -> ReviewerRequirement | None:
        body = self.mapping(raw, path, REVIEWERS_NEED_KEYS, "reviewers_need")
        if not isinstance(raw, dict):
            return None
        mfa = body.get("mfa", False)
        if not isinstance(mfa, bool):
            self.fail(f"{path}.mfa", PolicyErrorCode.POLICY_WRONG_TYPE, "mfa must be true or false")
            return None
        age: timedelta | None = None
        if "max_auth_age" in body:
            raw_age = self.required(body, "max_auth_age", path, "reviewers_need")
            if raw_age is None:
                return None
            age = self.duration(raw_age, f"{path}.max_auth_age", MAX_AUTH_AGE)
            if age is None:
                return None
            if not MIN_AUTH_AGE <= age <= MAX_AUTH_AGE:
                self.fail(
                    f"{path}.max_auth_age",
                    PolicyErrorCode.POLICY_BAD_DURATION,
                    "max_auth_age must be from 1m to 24h",
                )
                return None
        if not mfa and age is None and all(key in REVIEWERS_NEED_KEYS for key in body):
            # An empty requirement would read as a step-up while asking for nothing (a
            # misspelt key is reported as such, not twice).
            self.fail(
                path,
                PolicyErrorCode.POLICY_BAD_VALUE,
                "reviewers_need asks for nothing; set mfa: true and/or max_auth_age, or remove it",
            )
            return None
        return ReviewerRequirement(mfa=mfa, max_auth_age=age)

    def _approvers(self, raw: Any, path: str) -> tuple[Approver, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw:
            self.fail(path, PolicyErrorCode.POLICY_WRONG_TYPE, "approvers must be a non-empty list")
            return ()
        out: list[Approver] = []
        for i, item in enumerate(raw):
            at = f"{path}[{i}]"
            body = self.mapping(item, at, APPROVER_KEYS, "an approver")
            kinds = [k for k in ("group", "email") if k in body]
            if len(kinds) != 1:
                if isinstance(item, dict):  # a non-mapping was reported by mapping()
                    self.fail(
                        at,
                        PolicyErrorCode.POLICY_SELECTOR_SHAPE,
                        "an approver is {group: NAME} or {email: ADDRESS}",
                    )
                continue
            kind = kinds[0]
            value = self.string(body[kind], f"{at}.{kind}", f"the approver {kind}")
            required = 0
            if "required" in body:
                if kind != "group":
                    self.fail(
                        f"{at}.required",
                        PolicyErrorCode.POLICY_BAD_VALUE,
                        "only a group approver takes 'required'",
                    )
                required = (
                    self.integer(body["required"], f"{at}.required", "required", low=1, high=100)
                    or 0
                )
            if value is not None:
                if kind == "email":
                    value = value.lower()
                    if "@" not in value:
                        self.fail(
                            f"{at}.email",
                            PolicyErrorCode.POLICY_BAD_EMAIL,
                            f"'{value}' is not an email address",
                        )
                out.append(Approver(kind, value, required))
        return tuple(out)


def _rule_key(value: Any) -> Hashable:
    """A hashable, type-exact form of a selector value. Applications that repeat a selector
    (the contractors block, a device requirement) then share one Rule, which keeps a large
    policy set's hot path small enough to stay in the CPU caches."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _rule_key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_rule_key(v) for v in value))
    return (type(value).__name__, value)

"""The closed list of codes a located policy error carries; the values are the stable strings
operators, the API and `policy check --json` see, so they never change."""

from __future__ import annotations

from enum import StrEnum


class PolicyErrorCode(StrEnum):
    """Why a policy file, a policy test file or the policy directory was refused."""

    # the YAML itself
    YAML_BAD_KEY = "yaml.bad_key"
    YAML_DUPLICATE_KEY = "yaml.duplicate_key"
    YAML_EMPTY = "yaml.empty"
    YAML_NOT_A_MAPPING = "yaml.not_a_mapping"
    YAML_SYNTAX = "yaml.syntax"
    YAML_TOO_COMPLEX = "yaml.too_complex"
    YAML_TOO_LARGE = "yaml.too_large"

    # reading the policy directory
    FILES_NO_APPLICATIONS = "files.no_applications"
    FILES_NO_DIRECTORY = "files.no_directory"
    FILES_NOT_A_FILE = "files.not_a_file"
    FILES_NOT_UTF8 = "files.not_utf8"
    FILES_UNREADABLE = "files.unreadable"

    # the policy language
    POLICY_ACTION_CONFLICT = "policy.action_conflict"
    POLICY_APPROVALS_EXCEED_APPROVERS = "policy.approvals_exceed_approvers"
    POLICY_BAD_ACTION = "policy.bad_action"
    POLICY_BAD_CIDR = "policy.bad_cidr"
    POLICY_BAD_COUNTRY = "policy.bad_country"
    POLICY_BAD_DURATION = "policy.bad_duration"
    POLICY_BAD_EMAIL = "policy.bad_email"
    POLICY_BAD_HOST = "policy.bad_host"
    POLICY_BAD_ID = "policy.bad_id"
    POLICY_BAD_PATH = "policy.bad_path"
    POLICY_BAD_PATTERN = "policy.bad_pattern"
    POLICY_BAD_TIME = "policy.bad_time"
    POLICY_BAD_TIMEZONE = "policy.bad_timezone"
    POLICY_BAD_VALUE = "policy.bad_value"
    POLICY_BREAK_GLASS_WITHOUT_APPROVAL = "policy.break_glass_without_approval"
    POLICY_CONFLICTING_ROUTE = "policy.conflicting_route"
    POLICY_DUPLICATE_APPLICATION = "policy.duplicate_application"
    POLICY_DUPLICATE_POLICY = "policy.duplicate_policy"
    POLICY_DURATION_ORDER = "policy.duration_order"
    POLICY_EMPTY_INCLUDE = "policy.empty_include"
    POLICY_ESCALATION_INCOMPLETE = "policy.escalation_incomplete"
    POLICY_ESCALATION_NEVER_DUE = "policy.escalation_never_due"
    POLICY_MISSING_KEY = "policy.missing_key"
    POLICY_SELECTOR_SHAPE = "policy.selector_shape"
    POLICY_UNKNOWN_KEY = "policy.unknown_key"
    POLICY_UNKNOWN_SELECTOR = "policy.unknown_selector"
    POLICY_WRONG_TYPE = "policy.wrong_type"

    # policy test suites
    TEST_BAD_COUNTRY = "test.bad_country"
    TEST_BAD_DECISION = "test.bad_decision"
    TEST_BAD_IP = "test.bad_ip"
    TEST_BAD_TIME = "test.bad_time"
    TEST_BAD_URL = "test.bad_url"
    TEST_BAD_VALUE = "test.bad_value"
    TEST_DUPLICATE_CASE = "test.duplicate_case"
    TEST_MISSING_KEY = "test.missing_key"
    TEST_UNKNOWN_FIXTURE = "test.unknown_fixture"
    TEST_UNKNOWN_KEY = "test.unknown_key"
    TEST_UNKNOWN_REASON = "test.unknown_reason"
    TEST_WRONG_TYPE = "test.wrong_type"

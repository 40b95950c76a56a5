"""The closed vocabulary of reason codes that decisions, logs, headers and the UI speak."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Kebab-case codes; never prose. Adding one is an API change (CHANGELOG)."""

    # Application and policy matching
    APPLICATION_NOT_FOUND = "application-not-found"
    NO_POLICY_MATCHED = "no-policy-matched"
    POLICY_ALLOW = "policy-allow"
    POLICY_BLOCK = "policy-block"
    POLICY_BYPASS = "policy-bypass"
    USER_UNAUTHENTICATED = "user-unauthenticated"
    # Rule sections (explain table)
    POLICY_MATCHED = "policy-matched"
    NOT_EVALUATED = "not-evaluated"
    INCLUDE_NOT_MATCHED = "include-not-matched"
    REQUIRE_NOT_MET = "require-not-met"
    EXCLUDE_MATCHED = "exclude-matched"
    # Selectors: <kind>-ok / <kind>-not-allowed
    EVERYONE_OK = "everyone-ok"
    EMAIL_OK = "email-ok"
    EMAIL_NOT_ALLOWED = "email-not-allowed"
    EMAIL_DOMAIN_OK = "email-domain-ok"
    EMAIL_DOMAIN_NOT_ALLOWED = "email-domain-not-allowed"
    GROUPS_OK = "groups-ok"
    GROUPS_NOT_ALLOWED = "groups-not-allowed"
    IP_OK = "ip-ok"
    IP_NOT_ALLOWED = "ip-not-allowed"
    COUNTRY_OK = "country-ok"
    COUNTRY_NOT_ALLOWED = "country-not-allowed"
    DEVICE_OK = "device-ok"
    DEVICE_NOT_ALLOWED = "device-not-allowed"
    AUTH_METHOD_OK = "auth-method-ok"
    AUTH_METHOD_NOT_ALLOWED = "auth-method-not-allowed"
    CLAIM_OK = "claim-ok"
    CLAIM_NOT_ALLOWED = "claim-not-allowed"
    TIME_OK = "time-ok"
    TIME_NOT_ALLOWED = "time-not-allowed"
    # Second opinion
    GRANT_ACTIVE = "grant-active"
    GRANT_EXPIRED = "grant-expired"
    GRANT_MISSING = "grant-missing"
    #: An approved window that has not begun yet (`starts_at` is still ahead).
    GRANT_UPCOMING = "grant-upcoming"
    REQUEST_PENDING = "request-pending"
    APPROVAL_REQUIRED = "approval-required"
    JUSTIFICATION_REQUIRED = "justification-required"
    JUSTIFICATION_ACTIVE = "justification-active"
    GRANT_STATE_UNAVAILABLE = "grant-state-unavailable"
    # Failures
    INTERNAL_ERROR = "internal-error"
    BAD_REQUEST = "bad-request"

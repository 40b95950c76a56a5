"""The table of settings: for each one its name, default, meaning, parser and the field of
`Settings` it fills. The README's settings table is checked against `SETTINGS_DOC`.

A setting's variable is `COUNTERSIGN_` + its key in upper case; its config-file key is the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.config import values as v
from app.config.issuers import algorithms
from app.config.sessions import assertion_ttl, scopes
from app.config.settings import durability

PREFIX = "COUNTERSIGN_"


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting."""

    key: str
    default: str | None
    description: str
    parse: Callable[[object], Any]
    #: What SETTINGS_DOC shows when the default is derived from another setting.
    shown: str | None = None
    #: `group.field` of Settings it fills; None for the parts of a composite (issuer
    #: shorthand, claim names, OIDC), which the loader puts together.
    at: str | None = None


def _in(group: str, *specs: Spec, strip: str = "") -> tuple[Spec, ...]:
    """`specs` filling fields of `group`, each named by its key without `strip`."""
    return tuple(replace(s, at=s.at or f"{group}.{s.key.removeprefix(strip)}") for s in specs)


_duration = v.duration()

SPECS: tuple[Spec, ...] = (
    *_in(
        "server",
        Spec("host", "127.0.0.1", "Address the HTTP server binds to.", v.text),
        Spec("port", "8080", "TCP port of the HTTP server.", v.integer(1, 65535)),
        Spec(
            "grpc_port",
            None,
            "Port of the Envoy gRPC ext_authz listener "
            "(envoy.service.auth.v3.Authorization/Check); unset: none.",
            v.integer(1, 65535),
        ),
        Spec("workers", "1", "Number of server worker processes.", v.integer(1, 64)),
        Spec(
            "public_url",
            None,
            "Absolute http(s) URL where users reach Countersign (no query).",
            v.url,
            "http://HOST:PORT (127.0.0.1 for a wildcard HOST)",
        ),
        Spec(
            "login_url",
            None,
            "Where unauthenticated users are sent.",
            v.url,
            "PUBLIC_URL/login",
        ),
        Spec(
            "keepalive_timeout",
            "100s",
            "How long an idle keep-alive connection stays open; longer than any proxy's "
            "upstream idle timeout.",
            _duration,
        ),
        Spec("data_dir", "var", "Directory for local state (embedded Redis, dev key).", v.path),
    ),
    *_in(
        "policy",
        Spec("policy_dir", "policy_rules", "Directory holding the policy files.", v.path),
        Spec("policy_reload", "true", "Reload policies when their files change.", v.boolean),
        Spec("policy_reload_interval", "2s", "How often policy files are checked.", _duration),
        strip="policy_",
    ),
    *_in(
        "redis",
        Spec(
            "redis_url",
            None,
            "redis://, rediss:// or unix:// URL; unset starts an embedded server (secret).",
            v.redis_url,
        ),
        Spec(
            "redis_mode",
            "standalone",
            "standalone, sentinel or cluster.",
            v.choice("standalone", "sentinel", "cluster"),
        ),
        Spec("redis_sentinel_master", "mymaster", "Sentinel master name.", v.text),
        Spec(
            "redis_password",
            None,
            "Redis password (secret; use REDIS_PASSWORD_FILE).",
            v.secret,
        ),
        Spec("redis_timeout", "250ms", "Redis socket timeout (e.g. 250ms, 2s).", _duration),
        Spec(
            "durability",
            "fsync",
            "When a change is acknowledged: fsync (on Redis's disk), replicas:N (and on N "
            "replicas) or none (Redis's own AOF policy; a crash may undo acknowledged changes).",
            durability,
        ),
        Spec(
            "durability_timeout",
            "2s",
            "How long a change waits for DURABILITY before the call answers 503.",
            _duration,
        ),
        strip="redis_",
    ),
    *_in(
        "retention",
        Spec(
            "idempotency_ttl",
            "24h",
            "How long the outcome of a call with an Idempotency-Key is kept for its retries.",
            _duration,
        ),
        Spec(
            "audit_retention",
            "400d",
            "How long audit entries are kept; older ones are trimmed behind a checkpoint.",
            _duration,
        ),
        Spec(
            "request_retention",
            "400d",
            "How long ended requests and grants are kept for history and audit.",
            _duration,
        ),
        Spec(
            "sweep_interval",
            "5s",
            "How often each replica expires due requests and grants.",
            _duration,
        ),
    ),
    *_in(
        "signals",
        Spec(
            "trusted_proxies",
            "127.0.0.1/32,::1/128",
            "Comma list of proxy CIDRs whose forwarded headers are believed; 'none' trusts none.",
            v.cidrs,
        ),
        Spec("country_header", None, "Trusted country header, e.g. CF-IPCountry.", v.header),
        Spec("geoip_db", None, "MaxMind country database (.mmdb).", v.path),
        Spec(
            "device_inventory",
            None,
            "YAML file of devices by certificate fingerprint.",
            v.path,
        ),
        Spec("mtls_verify_header", "X-Client-Verify", "Header with the mTLS result.", v.header),
        Spec(
            "mtls_fingerprint_header",
            "X-Client-Cert-Fingerprint",
            "Header with the client certificate SHA-256 fingerprint.",
            v.header,
        ),
        Spec(
            "mtls_cert_header",
            "X-Client-Cert",
            "Header with the client certificate (URL-escaped PEM or base64 DER); its SHA-256 "
            "is used.",
            v.header,
        ),
    ),
    # The issuer shorthand: put together into identity.issuers.
    Spec("issuer", None, "Token issuer (iss) of the one-issuer shorthand.", v.text),
    Spec(
        "audience",
        None,
        "Accepted audience(s) (aud), comma list; needed with ISSUER.",
        v.text_list,
    ),
    Spec("jwks_url", None, "JWKS URL of ISSUER (https; http only on loopback).", v.key_url),
    Spec("jwt_key_file", None, "PEM public key of ISSUER, instead of JWKS_URL.", v.path),
    *_in(
        "identity",
        Spec(
            "jwt_algorithms",
            "RS256,ES256,EdDSA",
            "Accepted signature algorithms; none and HS* are refused.",
            algorithms,
        ),
        Spec(
            "jwt_leeway",
            "30s",
            "Clock skew allowed on exp and nbf ('0s' for none).",
            v.duration(allow_zero=True),
        ),
        Spec(
            "jwks_refresh_interval",
            "30s",
            "Least time between JWKS fetches caused by an unknown kid.",
            _duration,
        ),
        Spec("jwks_cache_ttl", "10m", "How long fetched keys count as fresh.", _duration),
        Spec(
            "token_cache_ttl",
            "5m",
            "How long a verified token is remembered (never past its exp).",
            _duration,
        ),
        Spec(
            "token_cache_size",
            "10000",
            "Verified tokens kept (0 disables).",
            v.integer(0, 1_000_000),
        ),
        Spec("max_token_bytes", "16384", "Longest token accepted.", v.integer(1024, 1_048_576)),
        Spec(
            "cookie_name",
            "countersign_session",
            "Session cookie holding the token.",
            v.cookie_name,
        ),
        Spec(
            "assertion_header",
            None,
            "Header carrying a token from an upstream identity proxy.",
            v.header,
        ),
        strip="jwt_",
    ),
    # Claim names: put together into identity.claims (and the defaults of each issuer's).
    Spec("claim_email", "email", "Claim holding the email address.", v.text),
    Spec("claim_groups", "groups", "Claim holding the groups (list or comma string).", v.text),
    Spec("claim_amr", "amr", "Claim holding the authentication methods.", v.text),
    Spec("claim_device_managed", "device_managed", "Boolean claim: managed device.", v.text),
    Spec("claim_device_tags", "device_tags", "List claim: device posture tags.", v.text),
    *_in(
        "access",
        Spec(
            "admin_groups",
            "countersign-admins",
            "Comma list of groups whose members administer Countersign (API, revocations).",
            v.text_list,
        ),
    ),
    *_in(
        "sessions",
        Spec("cookie_domain", None, "Domain attribute of the session cookie.", v.cookie_domain),
        Spec(
            "session_key_file",
            None,
            "Comma list of PEM EC P-256 private keys signing sessions: the first signs, all "
            "verify.",
            v.paths,
            "unset (dev: DATA_DIR/dev/session-key.pem)",
        ),
        Spec(
            "session_ttl",
            "12h",
            "Absolute lifetime of a Countersign session (never extended).",
            _duration,
        ),
        Spec(
            "assertion_ttl",
            "5m",
            "Lifetime of the X-Countersign-Assertion JWT on allow answers (10s to 1h).",
            assertion_ttl,
        ),
        strip="session_",
    ),
    # Sign-in through an OpenID provider: put together into `signin`.
    Spec(
        "oidc_issuer",
        None,
        "Issuer URL of the OpenID provider people sign in with (https; http only on "
        "loopback); unset turns OIDC sign-in off.",
        v.issuer_url,
    ),
    Spec(
        "oidc_client_id",
        None,
        "Client id registered at the provider; needed with OIDC_ISSUER.",
        v.text,
    ),
    Spec(
        "oidc_client_secret",
        None,
        "Client secret (secret; use OIDC_CLIENT_SECRET_FILE); unset makes a public client "
        "(PKCE only).",
        v.secret,
    ),
    Spec("oidc_scopes", "openid email profile", "Scopes asked for; must include openid.", scopes),
    Spec("oidc_groups_claim", "groups", "Claim holding the groups at the provider.", v.text),
    Spec(
        "oidc_groups_from",
        "id_token",
        "Where groups are read: id_token or userinfo.",
        v.choice("id_token", "userinfo"),
    ),
    Spec(
        "oidc_acr_values",
        None,
        "acr_values asked for (and required in the ID token) when a step-up sign-in asks for MFA.",
        v.text,
    ),
    Spec(
        "oidc_algorithms",
        "RS256,ES256,EdDSA",
        "ID token signature algorithms accepted; none and HS* are refused.",
        algorithms,
    ),
    *_in(
        "dev",
        Spec(
            "dev",
            "false",
            "Development mode: built-in issuer, dev login, token mint.",
            v.boolean,
            at="dev.enabled",
        ),
        Spec("dev_users", None, "Users of the dev login.", v.path, "POLICY_DIR/dev-users.yaml"),
        strip="dev_",
    ),
    *_in(
        "logging",
        Spec(
            "log_level",
            "info",
            "debug, info, warning or error.",
            v.choice("debug", "info", "warning", "error"),
        ),
        Spec("log_format", "json", "json or console.", v.choice("json", "console")),
        strip="log_",
    ),
    *_in(
        "client",
        Spec(
            "api_url",
            None,
            "Where the `requests` and `grants` commands reach the REST API.",
            v.url,
            "http://127.0.0.1:PORT",
        ),
        Spec(
            "api_token",
            None,
            "Bearer token the `requests` and `grants` commands send (secret; use API_TOKEN_FILE).",
            v.secret,
        ),
    ),
    *_in(
        "notify",
        Spec(
            "notify_max_attempts",
            "8",
            "Tries per notification and channel before it goes to the dead-letter list.",
            v.integer(1, 100),
        ),
        Spec(
            "notify_retry_base", "5s", "Wait before the first retry; doubles each time.", _duration
        ),
        Spec("notify_retry_max", "15m", "Longest wait between two tries (plus jitter).", _duration),
        Spec("notify_timeout", "10s", "Time allowed for one delivery (HTTP or SMTP).", _duration),
        Spec(
            "notify_expiry_warning",
            "15m",
            "Tell approvers this long before a pending request expires ('0' turns it off).",
            v.duration(allow_zero=True),
        ),
        strip="notify_",
    ),
)
BY_KEY = {spec.key: spec for spec in SPECS}
#: Keys of the config file that are sections, not settings.
SECTIONS = ("issuers", "service_tokens", "notifications")
ALL_KEYS = frozenset(BY_KEY) | set(SECTIONS)

#: (variable, default, description) for every setting, as the README lists them.
SETTINGS_DOC: list[tuple[str, str, str]] = [
    (PREFIX + "CONFIG", "unset", "YAML file with the same settings in lower case; env wins."),
    *((PREFIX + s.key.upper(), s.shown or s.default or "unset", s.description) for s in SPECS),
]

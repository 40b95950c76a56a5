"""The table of settings: for each one its name, default, meaning, parser and the field of
`Settings` it fills. The README's settings table is checked against `SETTINGS_DOC`.

A setting's variable is `COUNTERSIGN_` + its key in upper case; its config-file key is the key.
"""

from __future__ import annotations

from app.config import values as v
from app.config.audit_checkpoints import AUDIT_CHECKPOINT_SPECS
from app.config.audit_sinks import AUDIT_SINK_SPECS
from app.config.decisions import DECISION_SPECS
from app.config.memo import MEMO_SPECS
from app.config.settings import durability
from app.config.slack import SLACK_SPECS
from app.config.spec_access import ACCESS_SPECS
from app.config.spec_base import PREFIX, Spec, grouped

_duration = v.duration()

SPECS: tuple[Spec, ...] = (
    *grouped(
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
    *grouped(
        "policy",
        Spec("policy_dir", "policy_rules", "Directory holding the policy files.", v.path),
        Spec("policy_reload", "true", "Reload policies when their files change.", v.boolean),
        Spec("policy_reload_interval", "2s", "How often policy files are checked.", _duration),
        strip="policy_",
    ),
    *grouped(
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
    *grouped(
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
    *grouped(
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
    *ACCESS_SPECS,
    *grouped(
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
    *grouped(
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
    *grouped("decisions", *(Spec(*row) for row in DECISION_SPECS), strip="decision_"),
    *grouped("memo", *(Spec(*row) for row in MEMO_SPECS), strip="decision_memo_"),
    *grouped(
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
    *grouped(
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
    *grouped("slack", *(Spec(*row) for row in SLACK_SPECS), strip="slack_"),
    *grouped("audit_stream", *(Spec(*row) for row in AUDIT_SINK_SPECS), strip="audit_"),
    *(Spec(*row) for row in AUDIT_CHECKPOINT_SPECS),  # rows name their own field
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

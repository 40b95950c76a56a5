"""Settings: read once from `COUNTERSIGN_*` variables and an optional YAML file, then passed in.

`load_settings(os.environ)` returns a frozen `Settings` or raises `SettingsError`, whose text is
one line naming each bad variable and what is wrong with it. The environment wins over the file
(named by `COUNTERSIGN_CONFIG`); any setting can also be read from a file with `<NAME>_FILE`.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr

from app.core.durations import DurationError, parse_duration
from app.notify_config import ChannelSettings, parse_channels
from app.services.principal import SCOPES

PREFIX = "COUNTERSIGN_"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Asymmetric signature algorithms Countersign verifies. `none` and HS* are refused by design:
#: an HMAC "signed" with an issuer's public key is the classic forgery.
SUPPORTED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA")
_SECRET_FILE_LIMIT = 64 * 1024
_TOKEN_CHARS = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_DOMAIN = re.compile(r"^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_MILLISECONDS = re.compile(r"^([1-9][0-9]{0,6})ms$")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: What a service token may be called (it appears in the audit log as `token:<name>`).
SERVICE_TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class SettingsError(ValueError):
    """One or more bad settings; `str()` is a single line: `NAME: problem; NAME: problem`."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        self.problems = tuple((where, " ".join(problem.split())) for where, problem in problems)
        super().__init__("; ".join(f"{where}: {problem}" for where, problem in self.problems))


class _BadValueError(ValueError):
    """A parser's complaint about one value; becomes one entry of a SettingsError."""


class ClaimNames(BaseModel):
    """Which token claims carry the email, groups, authentication methods and device posture."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str = "email"
    groups: str = "groups"
    amr: str = "amr"
    device_managed: str = "device_managed"
    device_tags: str = "device_tags"


class IssuerSettings(BaseModel):
    """One trusted token issuer, with its keys (JWKS URL or a static PEM key file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str | None = None
    key_file: Path | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    claims: ClaimNames = ClaimNames()
    #: Where it was configured, so key-loading errors can name it.
    origin: str = PREFIX + "ISSUER"


class OidcSettings(BaseModel):
    """Sign-in through an OpenID Connect provider (authorization code + PKCE).

    The redirect URI registered at the provider is PUBLIC_URL + `/login/callback`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str
    client_id: str
    #: None: a public client, authenticated by PKCE alone.
    client_secret: SecretStr | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    groups_claim: str = "groups"
    groups_from: Literal["id_token", "userinfo"] = "id_token"
    #: Sent as `acr_values` when a step-up sign-in asks for MFA (`/login?mfa=1`).
    acr_values: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")


class ServiceTokenSettings(BaseModel):
    """One service token of the REST API: its name, the SHA-256 of the token, and its scopes.

    Only the digest is configured; the token itself is shown once, by `countersign token
    service`, and kept by the tool that uses it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sha256: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Durability:
    """When a state change counts as done: `none` (Redis's own AOF policy), `fsync` (on the
    primary's disk) or `replicas` (also on `replicas` replicas)."""

    level: Literal["none", "fsync", "replicas"]
    replicas: int = 0

    def __str__(self) -> str:
        return f"replicas:{self.replicas}" if self.level == "replicas" else self.level


class Settings(BaseModel):
    """Everything configurable. Durations are timedeltas; header names are lower-case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int
    workers: int
    public_url: str
    login_url: str
    policy_dir: Path
    policy_reload: bool
    policy_reload_interval: timedelta
    redis_url: SecretStr | None
    redis_mode: Literal["standalone", "sentinel", "cluster"]
    redis_sentinel_master: str
    redis_password: SecretStr | None
    redis_timeout: timedelta
    durability: Durability = Durability("fsync")
    durability_timeout: timedelta = timedelta(seconds=2)
    idempotency_ttl: timedelta = timedelta(hours=24)
    audit_retention: timedelta = timedelta(days=400)
    keepalive_timeout: timedelta = timedelta(seconds=100)
    data_dir: Path
    trusted_proxies: tuple[Network, ...]
    issuers: tuple[IssuerSettings, ...]
    jwt_algorithms: tuple[str, ...]
    jwt_leeway: timedelta
    jwks_refresh_interval: timedelta
    jwks_cache_ttl: timedelta
    token_cache_ttl: timedelta
    assertion_ttl: timedelta = timedelta(minutes=5)
    claims: ClaimNames
    cookie_name: str
    cookie_domain: str | None
    session_key_file: tuple[Path, ...] | None = None
    session_ttl: timedelta = timedelta(hours=12)
    assertion_header: str | None
    country_header: str | None
    geoip_db: Path | None
    device_inventory: Path | None
    mtls_verify_header: str
    mtls_fingerprint_header: str
    mtls_cert_header: str
    dev: bool
    request_retention: timedelta
    sweep_interval: timedelta
    admin_groups: tuple[str, ...]
    dev_users: Path
    log_level: Literal["debug", "info", "warning", "error"]
    log_format: Literal["json", "console"]
    token_cache_size: int
    max_token_bytes: int
    notify_max_attempts: int
    notify_retry_base: timedelta
    notify_retry_max: timedelta
    notify_timeout: timedelta
    notify_expiry_warning: timedelta
    notifications: tuple[ChannelSettings, ...] = ()
    api_url: str
    api_token: SecretStr | None
    service_tokens: tuple[ServiceTokenSettings, ...] = ()
    config_file: Path | None = None
    #: None: sign-in through an OpenID provider is off (COUNTERSIGN_OIDC_ISSUER unset).
    oidc: OidcSettings | None = None

    @property
    def public_is_https(self) -> bool:
        """True when cookies must carry `Secure`."""
        return self.public_url.startswith("https://")


# --- value parsers: raw value (a string from the environment, anything from YAML) -> typed ---


def _text(raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _BadValueError(f"expected text, got {type(raw).__name__}")
    text = str(raw).strip()
    if not text:
        raise _BadValueError("must not be empty")
    return text


def _shown(raw: object) -> str:
    text = str(raw)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _int(low: int, high: int) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        if isinstance(raw, bool):
            raise _BadValueError(f"must be a whole number from {low} to {high}")
        try:
            value = raw if isinstance(raw, int) else int(_text(raw), 10)
        except ValueError:
            raise _BadValueError(
                f"must be a whole number from {low} to {high}, got {_shown(raw)}"
            ) from None
        if not low <= value <= high:
            raise _BadValueError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise _BadValueError(f"must be true or false, got {_shown(raw)}")


def _duration(*, allow_zero: bool = False) -> Callable[[object], timedelta]:
    def parse(raw: object) -> timedelta:
        if not isinstance(raw, str):
            raise _BadValueError(
                f"must be a duration such as '30s', '10m' or '250ms', got {_shown(raw)}"
            )
        text = raw.strip()
        if allow_zero and text in ("0", "0s"):
            return timedelta(0)
        if match := _MILLISECONDS.match(text):
            return timedelta(milliseconds=int(match.group(1)))
        try:
            return parse_duration(text)
        except DurationError as error:
            raise _BadValueError(f"{error} (or milliseconds such as '250ms')") from None

    return parse


def _url(raw: object) -> str:
    text = _text(raw)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _BadValueError(f"must be an absolute http:// or https:// URL, got {_shown(text)}")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise _BadValueError(f"must not have a query or fragment, got {_shown(text)}")
    if parts.username or parts.password:
        raise _BadValueError("must not contain a user name or password")
    try:
        _ = parts.port
    except ValueError:
        raise _BadValueError(f"has a bad port: {_shown(text)}") from None
    return text.rstrip("/")


def _key_url(raw: object) -> str:
    """A JWKS URL: keys fetched in the clear can be swapped, so http only on loopback."""
    text = _url(raw)
    parts = urlsplit(text)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise _BadValueError(
            "must use https (http is allowed only for localhost and loopback addresses)"
        )
    return text


def _issuer_url(raw: object) -> str:
    """An OpenID issuer: checked like a key URL, kept exactly as written (a trailing '/'
    included), since the provider's `iss` must equal it character for character."""
    _key_url(raw)
    return _text(raw)


def _redis_url(raw: object) -> SecretStr:
    text = _text(raw)
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("redis", "rediss", "unix", "valkey", "valkeys") or not rest:
        # Never echo the value: it may hold a password.
        raise _BadValueError("must be a redis://, rediss:// or unix:// URL")
    return SecretStr(text)


def _secret(raw: object) -> SecretStr:
    if not isinstance(raw, str) or not raw:
        raise _BadValueError("must be non-empty text")
    return SecretStr(raw)


def _list(raw: object) -> list[str]:
    if isinstance(raw, list | tuple):
        items = [_text(item) for item in raw]
    else:
        items = [part.strip() for part in _text(raw).split(",")]
    if any(not item for item in items):
        raise _BadValueError("has an empty entry in the list")
    return items


def _cidrs(raw: object) -> tuple[Network, ...]:
    if isinstance(raw, str) and raw.strip().lower() == "none":
        return ()
    networks = []
    for item in _list(raw):
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise _BadValueError(
                    f"{_shown(item)} is not an IP address or CIDR network"
                ) from None
            raise _BadValueError(
                f"{_shown(item)} has host bits set; did you mean {loose}?"
            ) from None
    return tuple(networks)


def _algorithms(raw: object) -> tuple[str, ...]:
    names = _list(raw)
    for name in names:
        if name.lower() == "none":
            raise _BadValueError("'none' is refused: unsigned tokens are never accepted")
        if name.upper().startswith("HS"):
            raise _BadValueError(f"{name} is refused: shared-secret algorithms are not accepted")
        if name not in SUPPORTED_ALGORITHMS:
            raise _BadValueError(
                f"{_shown(name)} is not supported; use {', '.join(SUPPORTED_ALGORITHMS)}"
            )
    return tuple(dict.fromkeys(names))


def _choice(*options: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = _text(raw).lower()
        if text not in options:
            raise _BadValueError(f"must be one of {', '.join(options)}, got {_shown(raw)}")
        return text

    return parse


def _durability(raw: object) -> Durability:
    text = _text(raw).lower()
    if text in ("none", "fsync"):
        return Durability(text)  # type: ignore[arg-type]
    name, sep, count = text.partition(":")
    if name == "replicas" and sep and count.isdigit() and 1 <= int(count) <= 16:
        return Durability("replicas", int(count))
    raise _BadValueError(f"must be fsync, replicas:N (N from 1 to 16) or none, got {_shown(raw)}")


def _header(raw: object) -> str:
    text = _text(raw)
    if not _TOKEN_CHARS.match(text):
        raise _BadValueError(f"{_shown(text)} is not a valid HTTP header name")
    return text.lower()


def _cookie_name(raw: object) -> str:
    text = _text(raw)
    if not _TOKEN_CHARS.match(text):
        raise _BadValueError(f"{_shown(text)} is not a valid cookie name")
    return text


def _cookie_domain(raw: object) -> str:
    text = _text(raw).lower()
    if not _DOMAIN.match(text) or ".." in text:
        raise _BadValueError(f"{_shown(text)} is not a domain name")
    return text


def _path(raw: object) -> Path:
    return Path(_text(raw))


def _assertion_ttl(raw: object) -> timedelta:
    # Short by design (a stolen one works until exp); at least 10s so reuse is worth it.
    value = _duration()(raw)
    if not timedelta(seconds=10) <= value <= timedelta(hours=1):
        raise _BadValueError(f"must be from 10s to 1h, got {_shown(raw)}")
    return value


def _claim(raw: object) -> str:
    return _text(raw)


def _scopes(raw: object) -> tuple[str, ...]:
    """OAuth scopes, separated by spaces or commas; `openid` must be one of them."""
    items = raw if isinstance(raw, list | tuple) else _text(raw).replace(",", " ").split()
    scopes = tuple(dict.fromkeys(_text(item) for item in items))
    if any(not _TOKEN_CHARS.match(scope) for scope in scopes):
        raise _BadValueError(f"{_shown(' '.join(scopes))} is not a list of scope names")
    if "openid" not in scopes:
        raise _BadValueError("must include openid")
    return scopes


def _paths(raw: object) -> tuple[Path, ...]:
    return tuple(Path(item) for item in _list(raw))


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    default: str | None
    description: str
    parse: Callable[[object], Any]
    #: What SETTINGS_DOC shows when the default is derived from another setting.
    shown: str | None = None


_SPECS = (
    _Spec("host", "127.0.0.1", "Address the HTTP server binds to.", _text),
    _Spec("port", "8080", "TCP port of the HTTP server.", _int(1, 65535)),
    _Spec("workers", "1", "Number of server worker processes.", _int(1, 64)),
    _Spec(
        "public_url",
        None,
        "Absolute http(s) URL where users reach Countersign (no query).",
        _url,
        "http://HOST:PORT (127.0.0.1 for a wildcard HOST)",
    ),
    _Spec("login_url", None, "Where unauthenticated users are sent.", _url, "PUBLIC_URL/login"),
    _Spec("policy_dir", "policy_rules", "Directory holding the policy files.", _path),
    _Spec("policy_reload", "true", "Reload policies when their files change.", _bool),
    _Spec("policy_reload_interval", "2s", "How often policy files are checked.", _duration()),
    _Spec(
        "redis_url",
        None,
        "redis://, rediss:// or unix:// URL; unset starts an embedded server (secret).",
        _redis_url,
    ),
    _Spec(
        "redis_mode",
        "standalone",
        "standalone, sentinel or cluster.",
        _choice("standalone", "sentinel", "cluster"),
    ),
    _Spec("redis_sentinel_master", "mymaster", "Sentinel master name.", _text),
    _Spec("redis_password", None, "Redis password (secret; use REDIS_PASSWORD_FILE).", _secret),
    _Spec("redis_timeout", "250ms", "Redis socket timeout (e.g. 250ms, 2s).", _duration()),
    _Spec(
        "durability",
        "fsync",
        "When a change is acknowledged: fsync (on Redis's disk), replicas:N (and on N "
        "replicas) or none (Redis's own AOF policy; a crash may undo acknowledged changes).",
        _durability,
    ),
    _Spec(
        "durability_timeout",
        "2s",
        "How long a change waits for DURABILITY before the call answers 503.",
        _duration(),
    ),
    _Spec(
        "idempotency_ttl",
        "24h",
        "How long the outcome of a call with an Idempotency-Key is kept for its retries.",
        _duration(),
    ),
    _Spec(
        "audit_retention",
        "400d",
        "How long audit entries are kept; older ones are trimmed behind a checkpoint.",
        _duration(),
    ),
    _Spec(
        "keepalive_timeout",
        "100s",
        "How long an idle keep-alive connection stays open; longer than any proxy's upstream "
        "idle timeout.",
        _duration(),
    ),
    _Spec("data_dir", "var", "Directory for local state (embedded Redis, dev key).", _path),
    _Spec(
        "trusted_proxies",
        "127.0.0.1/32,::1/128",
        "Comma list of proxy CIDRs whose forwarded headers are believed; 'none' trusts none.",
        _cidrs,
    ),
    _Spec("issuer", None, "Token issuer (iss) of the one-issuer shorthand.", _text),
    _Spec("audience", None, "Accepted audience(s) (aud), comma list; needed with ISSUER.", _list),
    _Spec("jwks_url", None, "JWKS URL of ISSUER (https; http only on loopback).", _key_url),
    _Spec("jwt_key_file", None, "PEM public key of ISSUER, instead of JWKS_URL.", _path),
    _Spec(
        "jwt_algorithms",
        "RS256,ES256,EdDSA",
        "Accepted signature algorithms; none and HS* are refused.",
        _algorithms,
    ),
    _Spec(
        "jwt_leeway",
        "30s",
        "Clock skew allowed on exp and nbf ('0s' for none).",
        _duration(allow_zero=True),
    ),
    _Spec(
        "jwks_refresh_interval",
        "30s",
        "Least time between JWKS fetches caused by an unknown kid.",
        _duration(),
    ),
    _Spec("jwks_cache_ttl", "10m", "How long fetched keys count as fresh.", _duration()),
    _Spec(
        "token_cache_ttl",
        "5m",
        "How long a verified token is remembered (never past its exp).",
        _duration(),
    ),
    _Spec(
        "assertion_ttl",
        "5m",
        "Lifetime of the X-Countersign-Assertion JWT on allow answers (10s to 1h).",
        _assertion_ttl,
    ),
    _Spec("claim_email", "email", "Claim holding the email address.", _claim),
    _Spec("claim_groups", "groups", "Claim holding the groups (list or comma string).", _claim),
    _Spec("claim_amr", "amr", "Claim holding the authentication methods.", _claim),
    _Spec("claim_device_managed", "device_managed", "Boolean claim: managed device.", _claim),
    _Spec("claim_device_tags", "device_tags", "List claim: device posture tags.", _claim),
    _Spec(
        "oidc_issuer",
        None,
        "Issuer URL of the OpenID provider people sign in with (https; http only on loopback); "
        "unset turns OIDC sign-in off.",
        _issuer_url,
    ),
    _Spec(
        "oidc_client_id",
        None,
        "Client id registered at the provider; needed with OIDC_ISSUER.",
        _text,
    ),
    _Spec(
        "oidc_client_secret",
        None,
        "Client secret (secret; use OIDC_CLIENT_SECRET_FILE); unset makes a public client "
        "(PKCE only).",
        _secret,
    ),
    _Spec("oidc_scopes", "openid email profile", "Scopes asked for; must include openid.", _scopes),
    _Spec("oidc_groups_claim", "groups", "Claim holding the groups at the provider.", _claim),
    _Spec(
        "oidc_groups_from",
        "id_token",
        "Where groups are read: id_token or userinfo.",
        _choice("id_token", "userinfo"),
    ),
    _Spec(
        "oidc_acr_values",
        None,
        "acr_values asked for (and required in the ID token) when a step-up sign-in asks for MFA.",
        _text,
    ),
    _Spec(
        "oidc_algorithms",
        "RS256,ES256,EdDSA",
        "ID token signature algorithms accepted; none and HS* are refused.",
        _algorithms,
    ),
    _Spec("cookie_name", "countersign_session", "Session cookie holding the token.", _cookie_name),
    _Spec("cookie_domain", None, "Domain attribute of the session cookie.", _cookie_domain),
    _Spec(
        "session_key_file",
        None,
        "Comma list of PEM EC P-256 private keys signing sessions: the first signs, all verify.",
        _paths,
        "unset (dev: DATA_DIR/dev/session-key.pem)",
    ),
    _Spec(
        "session_ttl",
        "12h",
        "Absolute lifetime of a Countersign session (never extended).",
        _duration(),
    ),
    _Spec(
        "assertion_header",
        None,
        "Header carrying a token from an upstream identity proxy.",
        _header,
    ),
    _Spec("country_header", None, "Trusted country header, e.g. CF-IPCountry.", _header),
    _Spec("geoip_db", None, "MaxMind country database (.mmdb).", _path),
    _Spec("device_inventory", None, "YAML file of devices by certificate fingerprint.", _path),
    _Spec("mtls_verify_header", "X-Client-Verify", "Header with the mTLS result.", _header),
    _Spec(
        "mtls_fingerprint_header",
        "X-Client-Cert-Fingerprint",
        "Header with the client certificate SHA-256 fingerprint.",
        _header,
    ),
    _Spec(
        "mtls_cert_header",
        "X-Client-Cert",
        "Header with the client certificate (URL-escaped PEM or base64 DER); its SHA-256 is used.",
        _header,
    ),
    _Spec("dev", "false", "Development mode: built-in issuer, dev login, token mint.", _bool),
    _Spec(
        "request_retention",
        "400d",
        "How long ended requests and grants are kept for history and audit.",
        _duration(),
    ),
    _Spec(
        "sweep_interval",
        "5s",
        "How often each replica expires due requests and grants.",
        _duration(),
    ),
    _Spec(
        "admin_groups",
        "countersign-admins",
        "Comma list of groups whose members administer Countersign (API, revocations).",
        _list,
    ),
    _Spec("dev_users", None, "Users of the dev login.", _path, "POLICY_DIR/dev-users.yaml"),
    _Spec(
        "log_level",
        "info",
        "debug, info, warning or error.",
        _choice("debug", "info", "warning", "error"),
    ),
    _Spec("log_format", "json", "json or console.", _choice("json", "console")),
    _Spec("token_cache_size", "10000", "Verified tokens kept (0 disables).", _int(0, 1_000_000)),
    _Spec("max_token_bytes", "16384", "Longest token accepted.", _int(1024, 1_048_576)),
    _Spec(
        "api_url",
        None,
        "Where the `requests` and `grants` commands reach the REST API.",
        _url,
        "http://127.0.0.1:PORT",
    ),
    _Spec(
        "api_token",
        None,
        "Bearer token the `requests` and `grants` commands send (secret; use API_TOKEN_FILE).",
        _secret,
    ),
    _Spec(
        "notify_max_attempts",
        "8",
        "Tries per notification and channel before it goes to the dead-letter list.",
        _int(1, 100),
    ),
    _Spec(
        "notify_retry_base", "5s", "Wait before the first retry; doubles each time.", _duration()
    ),
    _Spec("notify_retry_max", "15m", "Longest wait between two tries (plus jitter).", _duration()),
    _Spec("notify_timeout", "10s", "Time allowed for one delivery (HTTP or SMTP).", _duration()),
    _Spec(
        "notify_expiry_warning",
        "15m",
        "Tell approvers this long before a pending request expires ('0' turns it off).",
        _duration(allow_zero=True),
    ),
)
_BY_KEY = {spec.key: spec for spec in _SPECS}
_SHORTHAND = ("issuer", "audience", "jwks_url", "jwt_key_file")
_CLAIM_KEYS = {
    "claim_email": "email",
    "claim_groups": "groups",
    "claim_amr": "amr",
    "claim_device_managed": "device_managed",
    "claim_device_tags": "device_tags",
}

#: (variable, default, description) for every setting, in the order the README lists them.
SETTINGS_DOC: list[tuple[str, str, str]] = [
    (PREFIX + "CONFIG", "unset", "YAML file with the same settings in lower case; env wins."),
    *((PREFIX + s.key.upper(), s.shown or s.default or "unset", s.description) for s in _SPECS),
]

_ISSUER_KEYS = ("issuer", "audience", "jwks_url", "key_file", "algorithms", "claims")
_SERVICE_TOKEN_KEYS = ("name", "sha256", "scopes")
_ALL_KEYS = frozenset(_BY_KEY) | {"issuers", "service_tokens", "notifications"}


@dataclass(frozen=True, slots=True)
class _Raw:
    value: object
    where: str


class _Loader:
    """Collects every problem instead of stopping at the first, then reports them on one line."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        # An empty variable counts as unset, as docker-compose and systemd users expect.
        self.env = {k: v for k, v in environ.items() if k.startswith(PREFIX) and v != ""}
        self.problems: list[tuple[str, str]] = []
        self.config_file: Path | None = None
        self.file: dict[str, object] = {}

    def bad(self, where: str, problem: str) -> None:
        self.problems.append((where, problem))

    def read_config_file(self) -> None:
        name = self.env.get(PREFIX + "CONFIG")
        if name is None:
            return
        where = PREFIX + "CONFIG"
        self.config_file = Path(name)
        try:
            text = self.config_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.bad(where, f"cannot read {name}: {getattr(error, 'strerror', None) or error}")
            return
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            self.bad(where, f"{name} is not valid YAML{at}")
            return
        if data is None:
            return
        if not isinstance(data, dict):
            self.bad(where, f"{name} must hold a mapping of settings")
            return
        for key, value in data.items():
            if value is None:  # `key:` with nothing after it reads as unset
                continue
            if key in _ALL_KEYS or (
                isinstance(key, str) and key.endswith("_file") and key[:-5] in _BY_KEY
            ):
                self.file[key] = value
            else:
                self.bad(f"{key} in {name}", "unknown setting" + _suggest(str(key), _ALL_KEYS))

    def check_unknown_variables(self) -> None:
        settings = {PREFIX + k.upper() for k in _BY_KEY}
        names = settings | {PREFIX + "CONFIG"}
        for variable in sorted(self.env):
            if variable in names or variable.removesuffix("_FILE") in settings:
                continue
            self.bad(variable, "unknown setting" + _suggest(variable, names))

    def raw(self, key: str) -> _Raw | None:
        """The value of one setting: environment first, then the file; `*_FILE` reads a file."""
        variable = PREFIX + key.upper()
        sources = (
            (self.env, variable, variable + "_FILE"),
            (self.file, key, key + "_file"),
        )
        for values, name, file_name in sources:
            where = name if values is self.env else f"{name} in {self.config_file}"
            file_where = file_name if values is self.env else f"{file_name} in {self.config_file}"
            if name in values and file_name in values:
                self.bad(where, f"set both {name} and {file_name}; keep one")
                return None
            if name in values:
                return _Raw(values[name], where)
            if file_name in values:
                content = self._read_secret_file(values[file_name], file_where)
                return None if content is None else _Raw(content, file_where)
        return None

    def _read_secret_file(self, name: object, where: str) -> str | None:
        if not isinstance(name, str) or not name:
            self.bad(where, "must name a file")
            return None
        try:
            with Path(name).open("rb") as handle:
                data = handle.read(_SECRET_FILE_LIMIT + 1)
        except OSError as error:
            self.bad(where, f"cannot read {name}: {error.strerror or error}")
            return None
        if len(data) > _SECRET_FILE_LIMIT:
            self.bad(where, f"{name} is larger than {_SECRET_FILE_LIMIT} bytes")
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.bad(where, f"{name} is not UTF-8 text")
            return None
        # Files written by `echo` or editors end in a newline that is not part of the secret.
        return text.removesuffix("\n").removesuffix("\r")

    def value(self, key: str) -> tuple[Any, str | None]:
        """(parsed value or None when unset/bad, where it came from)."""
        spec = _BY_KEY[key]
        raw = self.raw(key)
        if raw is None:
            return (spec.parse(spec.default) if spec.default is not None else None), None
        try:
            return spec.parse(raw.value), raw.where
        except _BadValueError as error:
            self.bad(raw.where, str(error))
            return _INVALID, raw.where


_INVALID: Any = object()


def _suggest(name: str, options: set[str] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build the settings once at start-up. Raises SettingsError listing every bad setting."""
    loader = _Loader(environ)
    loader.read_config_file()
    loader.check_unknown_variables()
    values: dict[str, Any] = {}
    origins: dict[str, str | None] = {}
    for spec in _SPECS:
        values[spec.key], origins[spec.key] = loader.value(spec.key)

    _derive_local_urls(values)
    if values["login_url"] is None and values["public_url"] is not _INVALID:
        values["login_url"] = values["public_url"] + "/login"
    if values["dev_users"] is None and values["policy_dir"] is not _INVALID:
        values["dev_users"] = values["policy_dir"] / "dev-users.yaml"
    if values["redis_mode"] in ("sentinel", "cluster") and values["redis_url"] is None:
        loader.bad(
            PREFIX + "REDIS_URL",
            f"required with {PREFIX}REDIS_MODE={values['redis_mode']} "
            "(the embedded server is standalone only)",
        )
    claims = {name: values[key] for key, name in _CLAIM_KEYS.items() if values[key] is not _INVALID}
    algorithms = values["jwt_algorithms"]
    issuers = _shorthand_issuer(loader, values, origins, claims)
    issuers += _file_issuers(loader, claims, algorithms)
    _check_duplicate_issuers(loader, issuers)
    service_tokens = _file_service_tokens(loader)
    oidc = _oidc(loader, values, origins)
    notifications = parse_channels(
        loader.file.get("notifications"),
        origin=str(loader.config_file),
        environ=environ,
        bad=loader.bad,
    )

    if loader.problems:
        raise SettingsError(*loader.problems)
    settings_values = {k: v for k, v in values.items() if k not in _SHORTHAND}
    for key in _CLAIM_KEYS:
        del settings_values[key]
    for key in _OIDC_KEYS:
        del settings_values[key]
    return Settings(
        **settings_values,
        issuers=tuple(issuers),
        claims=ClaimNames(**claims),
        service_tokens=service_tokens,
        notifications=notifications,
        config_file=loader.config_file,
        oidc=oidc,
    )


def load_client_settings(environ: Mapping[str, str]) -> tuple[str, SecretStr | None]:
    """API_URL and API_TOKEN (or API_TOKEN_FILE) for the CLI's API commands. The server's
    settings are not read (a workstation calling a remote service has none of them), except
    PORT, from which API_URL's default comes."""
    loader = _Loader(environ)
    values: dict[str, Any] = {}
    for key in ("host", "port", "api_url", "api_token"):
        values[key], _ = loader.value(key)
    if loader.problems:
        raise SettingsError(*loader.problems)
    values["public_url"] = ""
    _derive_local_urls(values)
    return values["api_url"], values["api_token"]


def _derive_local_urls(values: dict[str, Any]) -> None:
    """PUBLIC_URL and API_URL default to this instance's own address, so setting PORT alone
    moves the dev issuer, the sign-in redirects and the CLI along with the server."""
    host, port = values["host"], values["port"]
    if host is _INVALID or port is _INVALID:  # already reported; nothing to derive from
        for key in ("public_url", "api_url"):
            if values[key] is None:
                values[key] = _INVALID
        return
    if host in ("0.0.0.0", "::", "[::]", "*", ""):  # noqa: S104  (a wildcard: not an address to visit)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if values["public_url"] is None:
        values["public_url"] = f"http://{host}:{port}"
    if values["api_url"] is None:
        values["api_url"] = f"http://127.0.0.1:{port}"


_OIDC_KEYS = (
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_scopes",
    "oidc_groups_claim",
    "oidc_groups_from",
    "oidc_acr_values",
    "oidc_algorithms",
)


def _oidc(
    loader: _Loader, values: Mapping[str, Any], origins: Mapping[str, str | None]
) -> OidcSettings | None:
    """COUNTERSIGN_OIDC_*: one provider, on when OIDC_ISSUER is set."""
    issuer_where = origins["oidc_issuer"] or PREFIX + "OIDC_ISSUER"
    if values["oidc_issuer"] is None:
        for key in ("oidc_client_id", "oidc_client_secret", "oidc_acr_values"):
            if origins[key] is not None:
                loader.bad(issuer_where, f"required when {origins[key]} is set")
                return None
        return None
    if values["oidc_client_id"] is None:
        loader.bad(PREFIX + "OIDC_CLIENT_ID", f"required when {issuer_where} is set")
        return None
    if any(values[key] is _INVALID for key in _OIDC_KEYS):
        return None
    return OidcSettings(
        issuer=values["oidc_issuer"],
        client_id=values["oidc_client_id"],
        client_secret=values["oidc_client_secret"],
        scopes=values["oidc_scopes"],
        groups_claim=values["oidc_groups_claim"],
        groups_from=values["oidc_groups_from"],
        acr_values=values["oidc_acr_values"],
        algorithms=values["oidc_algorithms"],
    )


def _shorthand_issuer(
    loader: _Loader,
    values: Mapping[str, Any],
    origins: Mapping[str, str | None],
    claims: Mapping[str, str],
) -> list[IssuerSettings]:
    """COUNTERSIGN_ISSUER/AUDIENCE/JWKS_URL/JWT_KEY_FILE make one issuer."""
    given = [key for key in _SHORTHAND if origins[key] is not None]
    if not given:
        return []
    if any(values[key] is _INVALID for key in given):
        return []
    named = origins["issuer"] or PREFIX + "ISSUER"
    if values["issuer"] is None:
        loader.bad(named, f"required when {origins[given[0]]} is set")
        return []
    if values["audience"] is None:
        loader.bad(PREFIX + "AUDIENCE", f"required when {named} is set")
        return []
    return _issuer(
        loader,
        where=named,
        key_where=origins["jwt_key_file"] or PREFIX + "JWT_KEY_FILE",
        issuer=values["issuer"],
        audiences=values["audience"],
        jwks_url=values["jwks_url"],
        key_file=values["jwt_key_file"],
        algorithms=values["jwt_algorithms"],
        claims=claims,
    )


def _issuer(
    loader: _Loader,
    *,
    where: str,
    key_where: str,
    issuer: str,
    audiences: list[str],
    jwks_url: str | None,
    key_file: Path | None,
    algorithms: object,
    claims: Mapping[str, str],
) -> list[IssuerSettings]:
    if jwks_url is not None and key_file is not None:
        loader.bad(where, "give a JWKS URL or a key file, not both")
        return []
    if jwks_url is None and key_file is None:
        loader.bad(where, "needs a JWKS URL or a key file to verify its tokens")
        return []
    if key_file is not None and not key_file.is_file():
        loader.bad(key_where, f"no such file: {key_file}")
        return []
    if algorithms is _INVALID or len(claims) != len(_CLAIM_KEYS):
        return []
    return [
        IssuerSettings(
            issuer=issuer,
            audiences=tuple(audiences),
            jwks_url=jwks_url,
            key_file=key_file,
            algorithms=algorithms,  # type: ignore[arg-type]  # parsed by _algorithms
            claims=ClaimNames(**claims),
            origin=key_where if key_file is not None else where,
        )
    ]


def _file_issuers(
    loader: _Loader, claims: Mapping[str, str], algorithms: object
) -> list[IssuerSettings]:
    """The `issuers:` list of the config file; claims and algorithms default to the globals."""
    entries = loader.file.get("issuers")
    if entries is None:
        return []
    if not isinstance(entries, list):
        loader.bad(f"issuers in {loader.config_file}", "must be a list of issuers")
        return []
    result: list[IssuerSettings] = []
    for i, entry in enumerate(entries):
        result += _file_issuer(loader, entry, f"issuers[{i}]", claims, algorithms)
    return result


def _file_issuer(
    loader: _Loader, entry: object, at: str, claims: Mapping[str, str], algorithms: object
) -> list[IssuerSettings]:
    in_file = f"in {loader.config_file}"
    if not isinstance(entry, dict):
        loader.bad(f"{at} {in_file}", "must be a mapping with issuer, audience and jwks_url")
        return []
    before = len(loader.problems)
    for key in entry:
        if key not in _ISSUER_KEYS:
            suggestion = _suggest(str(key), set(_ISSUER_KEYS))
            loader.bad(f"{at}.{key} {in_file}", "unknown key" + suggestion)

    def field(key: str, parse: Callable[[object], Any]) -> Any:
        if entry.get(key) is None:
            if key in ("issuer", "audience"):
                loader.bad(f"{at}.{key} {in_file}", "required")
            return None
        try:
            return parse(entry[key])
        except _BadValueError as error:
            loader.bad(f"{at}.{key} {in_file}", str(error))
            return None

    issuer = field("issuer", _text)
    audiences = field("audience", _list)
    jwks_url = field("jwks_url", _key_url)
    key_file = field("key_file", _path)
    own_algorithms = field("algorithms", _algorithms)
    own_claims = dict(claims)
    raw_claims = entry.get("claims")
    if raw_claims is not None and not isinstance(raw_claims, dict):
        loader.bad(f"{at}.claims {in_file}", "must be a mapping such as {email: mail}")
    elif raw_claims:
        for name, value in raw_claims.items():
            where = f"{at}.claims.{name} {in_file}"
            if name not in ClaimNames.model_fields:
                roles = ", ".join(ClaimNames.model_fields)
                loader.bad(where, f"unknown claim role; use {roles}")
                continue
            try:
                own_claims[name] = _claim(value)
            except _BadValueError as error:
                loader.bad(where, str(error))
    if len(loader.problems) > before:
        return []
    return _issuer(
        loader,
        where=f"{at} {in_file}",
        key_where=f"{at}.key_file {in_file}",
        issuer=issuer,
        audiences=audiences,
        jwks_url=jwks_url,
        key_file=key_file,
        algorithms=own_algorithms if own_algorithms is not None else algorithms,
        claims=own_claims,
    )


def _check_duplicate_issuers(loader: _Loader, issuers: list[IssuerSettings]) -> None:
    seen: set[str] = set()
    for entry in issuers:
        if entry.issuer in seen:
            loader.bad(entry.origin, f"issuer {_shown(entry.issuer)} is configured twice")
        seen.add(entry.issuer)


def _file_service_tokens(loader: _Loader) -> tuple[ServiceTokenSettings, ...]:
    """The `service_tokens:` list of the config file: `{name, sha256, scopes}` each."""
    entries = loader.file.get("service_tokens")
    if entries is None:
        return ()
    in_file = f"in {loader.config_file}"
    if not isinstance(entries, list):
        loader.bad(f"service_tokens {in_file}", "must be a list of {name, sha256, scopes}")
        return ()
    tokens: list[ServiceTokenSettings] = []
    for i, entry in enumerate(entries):
        token = _file_service_token(loader, entry, f"service_tokens[{i}]", in_file)
        if token is None:
            continue
        for earlier in tokens:
            if earlier.name == token.name:
                loader.bad(f"service_tokens[{i}].name {in_file}", f"{token.name!r} is used twice")
            if earlier.sha256 == token.sha256:
                loader.bad(
                    f"service_tokens[{i}].sha256 {in_file}", "the same token is listed twice"
                )
        tokens.append(token)
    return tuple(tokens)


def _file_service_token(
    loader: _Loader, entry: object, at: str, in_file: str
) -> ServiceTokenSettings | None:
    if not isinstance(entry, dict):
        loader.bad(f"{at} {in_file}", "must be a mapping with name, sha256 and scopes")
        return None
    before = len(loader.problems)
    for key in entry:
        if key not in _SERVICE_TOKEN_KEYS:
            suggestion = _suggest(str(key), set(_SERVICE_TOKEN_KEYS))
            loader.bad(f"{at}.{key} {in_file}", "unknown key" + suggestion)
    name, digest, scopes = (entry.get(key) for key in _SERVICE_TOKEN_KEYS)
    if not isinstance(name, str) or not SERVICE_TOKEN_NAME.match(name):
        loader.bad(f"{at}.name {in_file}", "must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(digest, str) or not _SHA256_HEX.match(digest):
        loader.bad(
            f"{at}.sha256 {in_file}",
            "must be the 64 hex digits of the token's SHA-256 (see `countersign token service`)",
        )
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        loader.bad(
            f"{at}.scopes {in_file}", f"must be a list of scopes: {', '.join(sorted(SCOPES))}"
        )
    else:
        for scope in scopes:
            if scope not in SCOPES:
                loader.bad(
                    f"{at}.scopes {in_file}",
                    f"unknown scope {_shown(scope)}{_suggest(scope, SCOPES)}",
                )
    if (
        len(loader.problems) > before
        or not isinstance(name, str)
        or not isinstance(digest, str)
        or not isinstance(scopes, list)
    ):
        return None
    return ServiceTokenSettings(
        name=name, sha256=digest.lower(), scopes=frozenset(str(s) for s in scopes)
    )

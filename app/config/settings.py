"""`Settings`: everything configurable, in small frozen groups named after who reads them, so
each part of the service is handed its own group and nothing else.

Durations are timedeltas; header names are lower-case. Built once by `load_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from app.config import values
from app.config.audit_checkpoints import AuditCheckpointSettings
from app.config.audit_sinks import AuditStreamSettings
from app.config.channels import ChannelSettings
from app.config.decisions import DecisionRecordSettings
from app.config.errors import BadValueError
from app.config.issuers import ClaimNames, IssuerSettings
from app.config.memo import DecisionMemoSettings
from app.config.service_tokens import ServiceTokenSettings
from app.config.sessions import OidcSettings, SessionSettings
from app.config.slack import SlackSettings
from app.config.values import Network

_FROZEN = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class Durability:
    """When a state change counts as done: `none` (Redis's own AOF policy), `fsync` (on the
    primary's disk) or `replicas` (also on `replicas` replicas)."""

    level: Literal["none", "fsync", "replicas"]
    replicas: int = 0

    def __str__(self) -> str:
        return f"replicas:{self.replicas}" if self.level == "replicas" else self.level


def durability(raw: object) -> Durability:
    """`fsync`, `replicas:N` (N from 1 to 16) or `none`."""
    word = values.text(raw).lower()
    if word in ("none", "fsync"):
        return Durability(word)  # type: ignore[arg-type]
    level, sep, count = word.partition(":")
    if level == "replicas" and sep and count.isdigit() and 1 <= int(count) <= 16:
        return Durability("replicas", int(count))
    raise BadValueError(
        f"must be fsync, replicas:N (N from 1 to 16) or none, got {values.shown(raw)}"
    )


class ServerSettings(BaseModel):
    """The server process and where people reach it: `serve`, the pages' links and redirects."""

    model_config = _FROZEN

    host: str
    port: int
    workers: int
    #: Port of the Envoy gRPC ext_authz listener; None: no such listener.
    grpc_port: int | None
    keepalive_timeout: timedelta
    public_url: str
    login_url: str
    #: Local state: the embedded Redis, the dev keys.
    data_dir: Path

    @property
    def public_is_https(self) -> bool:
        """True when cookies must carry `Secure`."""
        return self.public_url.startswith("https://")


class LoggingSettings(BaseModel):
    """How the process logs."""

    model_config = _FROZEN

    level: Literal["debug", "info", "warning", "error"]
    format: Literal["json", "console"]


class PolicySettings(BaseModel):
    """Where the policy repository reads its files, and whether it follows their changes."""

    model_config = _FROZEN

    dir: Path
    reload: bool
    reload_interval: timedelta


class RedisSettings(BaseModel):
    """How to reach Redis, and when a write to it counts as done."""

    model_config = _FROZEN

    #: None: `serve` starts an embedded server.
    url: SecretStr | None
    mode: Literal["standalone", "sentinel", "cluster"]
    sentinel_master: str
    password: SecretStr | None
    timeout: timedelta
    durability: Durability
    durability_timeout: timedelta


class RetentionSettings(BaseModel):
    """How long records are kept, and how often each replica sweeps them."""

    model_config = _FROZEN

    request_retention: timedelta
    audit_retention: timedelta
    idempotency_ttl: timedelta
    sweep_interval: timedelta


class IdentitySettings(BaseModel):
    """Where tokens are found and how they are verified: the verifier and the authenticator."""

    model_config = _FROZEN

    issuers: tuple[IssuerSettings, ...]
    #: The algorithms of every issuer that does not name its own.
    algorithms: tuple[str, ...]
    leeway: timedelta
    jwks_refresh_interval: timedelta
    jwks_cache_ttl: timedelta
    token_cache_ttl: timedelta
    token_cache_size: int
    max_token_bytes: int
    claims: ClaimNames
    #: The cookie a token is read from (Countersign's session cookie).
    cookie_name: str
    #: The header an upstream identity proxy puts its token in; None: none.
    assertion_header: str | None


class AccessSettings(BaseModel):
    """Who administers Countersign and which tools may call the REST API."""

    model_config = _FROZEN

    admin_groups: tuple[str, ...]
    service_tokens: tuple[ServiceTokenSettings, ...]


class SignalSettings(BaseModel):
    """Whose forwarded headers are believed, and where country and device come from."""

    model_config = _FROZEN

    trusted_proxies: tuple[Network, ...]
    country_header: str | None
    geoip_db: Path | None
    device_inventory: Path | None
    mtls_verify_header: str
    mtls_fingerprint_header: str
    mtls_cert_header: str


class NotifySettings(BaseModel):
    """The notification channels and the notifier's delivery timings."""

    model_config = _FROZEN

    channels: tuple[ChannelSettings, ...]
    max_attempts: int
    retry_base: timedelta
    retry_max: timedelta
    timeout: timedelta
    #: How long before a pending request expires its approvers are told; 0: never.
    expiry_warning: timedelta


class DevSettings(BaseModel):
    """Development mode: a built-in issuer, the dev login and `token mint`."""

    model_config = _FROZEN

    enabled: bool
    users: Path


class ClientSettings(BaseModel):
    """How the CLI's `requests` and `grants` commands reach the REST API."""

    model_config = _FROZEN

    api_url: str
    api_token: SecretStr | None


class Settings(BaseModel):
    """Everything configurable, one group per reader."""

    model_config = _FROZEN

    server: ServerSettings
    logging: LoggingSettings
    policy: PolicySettings
    redis: RedisSettings
    retention: RetentionSettings
    identity: IdentitySettings
    access: AccessSettings
    sessions: SessionSettings
    #: None: sign-in through an OpenID provider is off (COUNTERSIGN_OIDC_ISSUER unset).
    signin: OidcSettings | None
    signals: SignalSettings
    notify: NotifySettings
    #: What a decision record holds and where the service captures them.
    decisions: DecisionRecordSettings
    #: Forward-auth decisions remembered while they provably hold (docs/adr/0012).
    memo: DecisionMemoSettings
    #: Approving from Slack (off unless COUNTERSIGN_SLACK_SIGNING_SECRET is set).
    slack: SlackSettings
    #: Where each audit entry is also delivered (none unless COUNTERSIGN_AUDIT_SINKS is set).
    audit_stream: AuditStreamSettings
    #: Signed audit checkpoints (off unless COUNTERSIGN_AUDIT_CHECKPOINT_KEY_FILE is set).
    audit_checkpoints: AuditCheckpointSettings
    dev: DevSettings
    client: ClientSettings
    #: The YAML file named by COUNTERSIGN_CONFIG, if any.
    config_file: Path | None

"""POST /api/v1/decisions/explain: the decision for a hypothetical request, rule by rule.

The body describes the request the way the forward-auth path would see it (normalised host and
path, lower-case email); the grant store's answer is imagined with `grant` and `pending`, as in
`countersign policy explain`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.adapters.api.v1.inputs import Name
from app.adapters.api.v1.problems import ProblemError
from app.adapters.signals.client_ip import normalise
from app.core.context import AccessContext, Device, Identity, build_access_context
from app.core.decision import Decision, Effect
from app.services.sample_requests import TargetError, parse_url

Scalar = Annotated[str, Field(max_length=1024)] | int | float | bool
ClaimValue = Scalar | Annotated[list[Scalar], Field(max_length=100)]
_EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _in_utc(moment: datetime) -> datetime:
    # A bare time is read as UTC, as `policy explain` does; far-off years would overflow the
    # grant arithmetic, so they are refused here.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not _EARLIEST <= aware <= _LATEST:
        raise ValueError("must be between 1971 and 9000")
    return aware.astimezone(UTC)


class ExplainBody(BaseModel):
    """A hypothetical request. Without `email` it is anonymous."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://grafana.example.com/d/1",
                    "email": "alice@example.com",
                    "groups": ["engineering"],
                    "device_managed": True,
                    "country": "FR",
                    "grant": "false",
                }
            ]
        },
    )

    url: Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^https?://[^\s]+$")]
    method: Annotated[str, Field(pattern=r"^[A-Za-z]{1,16}$")] = "GET"
    email: Annotated[str, Field(max_length=320)] | None = None
    groups: Annotated[list[Name], Field(max_length=100)] = []
    ip: IPv4Address | IPv6Address | None = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    device_managed: bool = False
    device_tags: Annotated[list[Name], Field(max_length=50)] = []
    amr: Annotated[list[Name], Field(max_length=20)] = []
    claims: Annotated[dict[Name, ClaimValue], Field(max_length=50)] = {}
    grant: Literal["true", "false", "expired", "unavailable"] = "false"
    pending: bool = False
    now: Annotated[datetime, AfterValidator(_in_utc)] | None = None


class RuleTraceOut(BaseModel):
    """One selector of a policy: whether it matched, and the reason code."""

    section: str
    index: int
    selector: str
    matched: bool
    reason: str


class PolicyTraceOut(BaseModel):
    """How one policy fared."""

    policy: str
    action: str
    matched: bool
    reason: str
    rules: list[RuleTraceOut]


class ExplainedDevice(BaseModel):
    """The device the request was imagined from."""

    managed: bool
    tags: list[str]


class ExplainedRequest(BaseModel):
    """The request as it was judged."""

    method: str
    url: str
    user: str | None
    groups: list[str]
    ip: str | None
    country: str | None
    device: ExplainedDevice


class ExplainOut(BaseModel):
    """The decision, its reasons, the application and policy, and the explain table."""

    decision: Effect
    reasons: list[str]
    application: str | None
    policy: str | None
    grant_id: str | None
    grant_expires_at: datetime | None
    pending_request_id: str | None
    now: datetime
    request: ExplainedRequest
    explain: list[PolicyTraceOut]

    @classmethod
    def of(cls, decision: Decision, context: AccessContext, now: datetime) -> ExplainOut:
        """From the core decision."""
        identity = context.identity
        return cls(
            decision=decision.effect,
            reasons=[str(reason) for reason in decision.reasons],
            application=decision.application,
            policy=decision.policy,
            grant_id=decision.grant_id,
            grant_expires_at=decision.grant_expires_at,
            pending_request_id=decision.pending_request_id,
            now=now,
            request=ExplainedRequest(
                method=context.method,
                url=f"{context.scheme}://{context.host}{context.path}",
                user=identity.user if identity else None,
                groups=sorted(identity.groups) if identity else [],
                ip=str(context.client_ip) if context.client_ip else None,
                country=context.country,
                device=ExplainedDevice(
                    managed=context.device.managed, tags=sorted(context.device.tags)
                ),
            ),
            explain=[
                PolicyTraceOut(
                    policy=trace.policy,
                    action=trace.action,
                    matched=trace.matched,
                    reason=str(trace.reason),
                    rules=[
                        RuleTraceOut(
                            section=rule.section,
                            index=rule.index,
                            selector=rule.selector,
                            matched=rule.matched,
                            reason=str(rule.reason),
                        )
                        for rule in trace.rules
                    ],
                )
                for trace in decision.explain
            ],
        )


def context_of(body: ExplainBody) -> AccessContext:
    """The AccessContext the body describes; 422 for what cannot be one."""
    try:
        scheme, host, path = parse_url(body.url)
    except TargetError as error:
        raise ProblemError(422, "invalid-url", str(error)[:300]) from None
    return build_access_context(
        host=host,
        path=path,
        method=body.method.upper(),
        scheme=scheme,
        identity=_identity(body),
        signals=(
            normalise(body.ip) if body.ip is not None else None,
            body.country.upper() if body.country else None,
            Device(managed=body.device_managed, tags=frozenset(body.device_tags)),
        ),
    )


def _identity(body: ExplainBody) -> Identity | None:
    if body.email is None:
        if body.groups or body.amr or body.claims:
            raise ProblemError(
                422, "invalid-input", "groups, amr and claims describe a user; give email too"
            )
        return None
    email = body.email.strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or not domain or any(c.isspace() for c in email):
        raise ProblemError(422, "invalid-input", "email is not an email address")
    return Identity(
        subject=email,
        email=email,
        groups=frozenset(g.strip() for g in body.groups),
        amr=frozenset(a.strip().lower() for a in body.amr),
        claims=MappingProxyType(dict(body.claims)),
    )

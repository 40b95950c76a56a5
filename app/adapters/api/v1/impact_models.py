"""The bodies of POST /api/v1/policies/impact: a proposed policy set, optional recorded
decisions, and the report (the same shape as `countersign policy impact --json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.adapters.api.v1.explain import ClaimValue
from app.adapters.api.v1.inputs import Name

#: Files of a proposed set; the request body itself is bounded (64 KiB) by the route class.
MAX_FILES = 100
#: Decisions a body may carry (beyond them, replay the service's capture or use the CLI).
MAX_POSTED = 1_000


class PolicyFileIn(BaseModel):
    """One application file of the proposed set: its name (as errors show it) and text."""

    model_config = ConfigDict(extra="forbid")

    path: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f]+$")]
    text: Annotated[str, Field(max_length=64 * 1024)]


class DecisionRecordIn(BaseModel):
    """A recorded decision's inputs (a decision log line may be posted as it is: the fields
    it has beyond these are ignored)."""

    model_config = ConfigDict(extra="ignore")

    method: Annotated[str, Field(pattern=r"^[A-Za-z]{1,16}$")] = "GET"
    host: Annotated[str, Field(min_length=1, max_length=255)]
    path: Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^/")]
    timestamp: datetime
    request_id: Annotated[str, Field(max_length=64)] | None = None
    client_ip: IPv4Address | IPv6Address | None = None
    user: Annotated[str, Field(max_length=320)] | None = None
    subject: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    issuer: Annotated[str, Field(max_length=2048)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    groups: Annotated[list[Name], Field(max_length=100)] = []
    amr: Annotated[list[Name], Field(max_length=20)] = []
    claims: Annotated[dict[Name, ClaimValue], Field(max_length=50)] = {}
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] | None = None
    device_managed: bool = False
    device_tags: Annotated[list[Name], Field(max_length=50)] = []

    def record(self) -> dict[str, Any]:
        """The decision record the replay reads (time in UTC, as the service writes it)."""
        record = self.model_dump(mode="json", exclude={"timestamp"})
        moment = self.timestamp
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        record["timestamp"] = f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z"
        if record["user"] is None and self.subject is not None:
            record["user"] = self.email or self.subject
        return record


class ImpactBody(BaseModel):
    """The proposed set (every application file of it) and, optionally, the decisions to
    replay; without them, the most recent decisions of the service's capture are replayed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "files": [
                        {
                            "path": "apps/admin.yaml",
                            "text": "application: {id: admin, hosts: [admin.example.com]}\n"
                            "policies:\n  - {name: Admins, action: allow, "
                            "include: [{group: admins}]}\n",
                        }
                    ],
                    "decisions": [
                        {
                            "host": "admin.example.com",
                            "path": "/",
                            "timestamp": "2026-11-24T10:00:00Z",
                            "subject": "alice",
                            "email": "alice@example.com",
                            "groups": ["engineers"],
                        }
                    ],
                }
            ]
        },
    )

    files: Annotated[list[PolicyFileIn], Field(min_length=1, max_length=MAX_FILES)]
    decisions: Annotated[list[DecisionRecordIn], Field(max_length=MAX_POSTED)] | None = None


class OutcomeOut(BaseModel):
    """What one policy set made of the requests of a group."""

    application: str | None
    policy: str | None
    effect: str
    reason: str | None
    access: str


class ExampleOut(BaseModel):
    """One recorded request of a group."""

    user: str | None
    method: str
    url: str
    at: str
    request_id: str | None


class ShiftOut(BaseModel):
    """Decisions that moved from one outcome to another."""

    application: str | None
    before: OutcomeOut
    after: OutcomeOut
    decisions: int
    people: int
    examples: list[ExampleOut]


class ImpactOut(BaseModel):
    """Who gains access, who loses it, and who is decided by another policy, if the proposed
    set replaced the one in force; `source` says what was replayed."""

    source: str
    decisions: int
    distinct_inputs: int
    unchanged: int
    ignored_lines: int
    incomplete_records: int
    gains: list[ShiftOut]
    losses: list[ShiftOut]
    changed: list[ShiftOut]
    notes: list[str]

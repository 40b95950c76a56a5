"""A compiled, immutable set of applications with its route index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from app.core.policy.index import RouteIndex
from app.core.policy.model import Application


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Applications by id, plus the index used to route a request to one of them."""

    applications: Mapping[str, Application]
    index: RouteIndex = field(repr=False)
    protected_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, applications: list[Application]) -> PolicySet:
        """Build a set (and its index) from already-validated applications."""
        hosts = frozenset(h for app in applications for h in app.hosts)
        return cls(
            MappingProxyType({app.id: app for app in applications}),
            RouteIndex.build(applications),
            hosts,
        )

    def resolve(self, host: str, path: str) -> Application | None:
        """The application serving `host` + `path`, or None (which is a deny)."""
        return self.index.resolve(host, path)

    def is_protected_host(self, host: str) -> bool:
        """Whether `host` belongs to some application (for validating redirect targets)."""
        if host in self.protected_hosts:
            return True
        labels = host.split(".")
        return any(
            "*." + ".".join(labels[i:]) in self.protected_hosts for i in range(1, len(labels))
        )

"""Find the application for a host and path in time independent of how many there are.

Routes live in one dict keyed by (host key, path prefix). A lookup cuts the request path to the
depth of the deepest configured prefix, then walks its ancestors (longest first) and, for each,
the host's exact name then its wildcard parents. So the longest prefix wins across
applications, an exact host beats a wildcard on a tie, and the work is bounded by the
configuration's depth, never by the number of applications or the attacker's path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.core.policy.model import Application


class RouteIndex:
    """An immutable (host, path prefix) → application index."""

    __slots__ = ("_depth", "_last", "_routes", "_wildcards")

    def __init__(self, routes: Mapping[tuple[str, str], Application]) -> None:
        self._routes = dict(routes)
        #: The last lookup, (host, path, answer): a check asks for the same request's route
        #: more than once (decision memo, then evaluation), with the very same strings.
        self._last: tuple[str, str, Application | None] = ("", "", None)
        self._wildcards = any(host.startswith("*.") for host, _ in self._routes)
        self._depth = max((_depth(path) for _, path in self._routes), default=0)

    @classmethod
    def build(cls, applications: Iterable[Application]) -> RouteIndex:
        """Index every (host, path) of every application; conflicts are found by the compiler."""
        routes: dict[tuple[str, str], Application] = {}
        for app in applications:
            for host in app.hosts:
                for path in app.paths:
                    routes.setdefault((host, path), app)
        return cls(routes)

    def resolve(self, host: str, path: str) -> Application | None:
        """The application for a normalised lower-case host and a normalised path."""
        last = self._last
        if last[0] is host and last[1] is path:
            return last[2]
        app = self._find(host, path)
        self._last = (host, path, app)
        return app

    def _find(self, host: str, path: str) -> Application | None:
        routes = self._routes
        keys = _host_keys(host) if self._wildcards else (host,)
        prefix = path
        if _depth(prefix) > self._depth:
            prefix = "/".join(prefix.split("/", self._depth + 1)[: self._depth + 1]) or "/"
        while True:
            for key in keys:
                app = routes.get((key, prefix))
                if app is not None:
                    return app
            if prefix == "/":
                return None
            cut = prefix.rfind("/")
            prefix = prefix[:cut] if cut > 0 else "/"

    def __len__(self) -> int:
        return len(self._routes)


def _depth(path: str) -> int:
    """Segments in a path: `/` → 0, `/a` → 1, `/a/b` → 2, `/a/` → 2."""
    return 0 if path == "/" else path.count("/")


def _host_keys(host: str) -> tuple[str, ...]:
    """`a.b.example.com` → itself, `*.b.example.com`, `*.example.com`, `*.com`."""
    labels = host.split(".")
    return (host, *("*." + ".".join(labels[i:]) for i in range(1, len(labels))))

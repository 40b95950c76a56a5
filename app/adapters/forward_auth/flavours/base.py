"""What every flavour is: a name, how its proxy wants answers (answers.Style), and, for the
proxies that call over HTTP, where the original request is in the check they send."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import ClassVar

from app.adapters.forward_auth.answers import Headers

#: The raw ASGI scope of the check (only HTTP flavours read it).
Scope = Mapping[str, object]
#: The original request as the proxy described it, not yet validated: method, scheme, host
#: (with any port) and URI (path and query). original.build_original judges it.
Target = tuple[str | None, str | None, str | None, str | None]


class Flavour:
    """How one proxy wants its answers (see answers.Style): the defaults are Envoy's."""

    name: ClassVar[str] = ""
    redirect_with_401: ClassVar[bool] = False
    carries_upstream_cookie: ClassVar[bool] = False
    page_by_second_call: ClassVar[bool] = False


class HttpFlavour(Flavour, abc.ABC):
    """A proxy that asks over HTTP: the check's method, path and headers describe the original."""

    @abc.abstractmethod
    def target(self, scope: Scope, headers: Headers) -> Target:
        """Where the original request is in this check; raise BadProxyRequestError when it is
        malformed (validation of each part is build_original's)."""

"""The raw ASGI transport behind /auth/*: no router, no dependency injection on the hot path.

Per request: collect the headers once, let the path's flavour say where the original request
is, and hand both to the transport-neutral check (check.py), which answers. `/auth/nginx/denied`
is the same check asked again by nginx's `error_page 403` handler: its answer is always a 403,
with the refusal page for a browser (auth_request drops the body of the check's own answer, so
the page needs this second call).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

from app.adapters.forward_auth.answers import NOT_FOUND, Answer, Targets
from app.adapters.forward_auth.assertion import Assertions
from app.adapters.forward_auth.check import (
    Checker,
    CheckRequest,
    collect_headers,
    refuse,
    request_id,
)
from app.adapters.forward_auth.deny_page import DenyPage
from app.adapters.forward_auth.flavours import NGINX_PAGE_PATH, http_flavour_for
from app.adapters.forward_auth.memo import DecisionMemo
from app.adapters.forward_auth.original import BadProxyRequestError
from app.services.decide import DecisionService
from app.services.ports import Identify, ReadSignals

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ForwardAuth:
    """One instance per process, built by bootstrap: the ASGI face of one Checker."""

    __slots__ = ("checker",)

    def __init__(
        self,
        *,
        decisions: DecisionService,
        identify: Identify,
        signals: ReadSignals,
        is_trusted_peer: Callable[[str], bool],
        targets: Targets,
        assertions: Assertions | None = None,
        deny_page: DenyPage | None = None,
        memo: DecisionMemo | None = None,
    ) -> None:
        self.checker = Checker(
            decisions=decisions,
            identify=identify,
            signals=signals,
            is_trusted_peer=is_trusted_peer,
            targets=targets,
            assertions=assertions,
            deny_page=deny_page,
            memo=memo,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        path: str = scope["path"]
        flavour = http_flavour_for(path)
        page = path == NGINX_PAGE_PATH
        if flavour is None or (page and self.checker.deny_page is None):
            await _send(send, NOT_FOUND)
            return
        client = scope.get("client")
        peer = client[0] if client else ""
        raw: list[tuple[bytes, bytes]] = scope["headers"]
        rid = ""
        try:
            # A list, not a generator: a generator's resumption per header costs more here.
            headers = collect_headers(
                [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw], count=len(raw)
            )
            rid = request_id(headers)
            target = flavour.target(scope, headers)
        except BadProxyRequestError as exc:
            await _send(send, refuse(flavour, peer, rid, str(exc), started))
            return
        request = CheckRequest(peer, headers, target, rid, page=page)
        await _send(send, await self.checker.check(flavour, request, started))


async def _send(send: Send, answer: Answer) -> None:
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})

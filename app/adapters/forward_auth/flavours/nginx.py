"""nginx `auth_request`: always a GET; the original in X-Original-URL/-Method (or X-Forwarded-*).

auth_request passes only 2xx, 401 and 403 on, and drops the body: a redirect is a 401 with
Location (the shipped config turns it into a 302), and the refusal page is fetched by a second
call from `error_page 403` (/auth/nginx/denied).
"""

from __future__ import annotations

from typing import ClassVar

from app.adapters.forward_auth.answers import Headers
from app.adapters.forward_auth.flavours.base import HttpFlavour, Scope, Target
from app.adapters.forward_auth.original import split_url


class Nginx(HttpFlavour):
    name: ClassVar[str] = "nginx"
    redirect_with_401: ClassVar[bool] = True
    page_by_second_call: ClassVar[bool] = True

    def target(self, scope: Scope, headers: Headers) -> Target:
        url = headers.get("x-original-url")
        method = headers.get("x-original-method") or headers.get("x-forwarded-method")
        if url is not None:
            scheme, host, uri = split_url(url)
            return method, scheme, host, uri
        return (
            method,
            headers.get("x-forwarded-proto"),
            headers.get("x-forwarded-host"),
            headers.get("x-forwarded-uri"),
        )

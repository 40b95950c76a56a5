"""A small synchronous client of /api/v1 for the CLI: bearer token in, JSON or one clear error
out. The token is sent, never logged or shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app.adapters.http_errors import cause

#: RFC 9457 problems (as app.adapters.api.v1.problems sends them; not imported from there,
#: which would load the web framework into every CLI call).
MEDIA_TYPE = "application/problem+json"

_DETAIL_LIMIT = 300


class ApiCallError(Exception):
    """The API refused (a problem document), answered something else, or could not be reached
    (`status` 0). `str()` is one line for a terminal."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        self.status = status
        self.code = code
        self.detail = " ".join(detail.split())[:_DETAIL_LIMIT]
        where = f"{status} " if status else ""
        super().__init__(f"{where}{code}: {self.detail}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiCallError:
        """From an error response: its problem document if it has one."""
        if response.headers.get("content-type", "").split(";")[0].strip() == MEDIA_TYPE:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                return cls(
                    response.status_code,
                    str(body.get("code", "error")),
                    str(body.get("detail", "")),
                )
        return cls(response.status_code, "http-error", response.reason_phrase or "no detail")


class ApiClient:
    """Calls one Countersign service as one caller."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self._base,
            headers={"authorization": f"Bearer {token}", "accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON of a successful answer; raises ApiCallError for anything else."""
        query = {k: _query_value(v) for k, v in (params or {}).items()}
        try:
            response = self._http.request(method, path, params=query, json=json)
        except httpx.HTTPError as error:
            raise ApiCallError(0, "unreachable", f"{self._base}: {_why(error)}") from None
        if not response.is_success:
            raise ApiCallError.from_response(response)
        try:
            return response.json()
        except ValueError:
            raise ApiCallError(response.status_code, "not-json", "the answer is not JSON") from None


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _why(error: httpx.HTTPError) -> str:
    return cause(error)

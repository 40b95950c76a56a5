"""Operations endpoints: /healthz (process up), /readyz (policy loaded, Redis reachable),
/metrics (Prometheus). Sign-in (/login) lives in app/adapters/signin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.services.policy_repository import PolicyStatus

log = structlog.get_logger("countersign")


def ops_router(
    *,
    policy_status: Callable[[], PolicyStatus],
    redis_ping: Callable[[], Awaitable[Any]],
    metrics: Callable[[], bytes],
    refresh_gauges: Callable[[], Awaitable[None]] | None = None,
    redis_timeout: float,
    key_status: Callable[[], Mapping[str, bool]] | None = None,
    notifications: Callable[[], Mapping[str, Any]] | None = None,
    durability: Callable[[], Mapping[str, Any]] | None = None,
) -> APIRouter:
    """Build the router; every dependency is passed in."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        status = policy_status()
        redis_ok = True
        try:
            async with asyncio.timeout(redis_timeout * 4):
                await redis_ping()
        except Exception:  # reported, not raised: readiness is a report
            redis_ok = False
        keys = dict(key_status()) if key_status is not None else {}
        ready = bool(status.version) and redis_ok and all(keys.values())
        body = {
            "ready": ready,
            "policy": {
                "loaded": bool(status.version),
                "version": status.version,
                "applications": status.applications,
                "last_reload_ok": status.last_reload_ok,
                "problem": status.problem,
                "errors": [str(e) for e in status.errors],
            },
            "redis": {"reachable": redis_ok},
            # Issuers whose keys were never fetched cannot verify anyone: not ready yet.
            "identity": {"issuers_with_keys": keys},
        }
        if notifications is not None:
            # Shown, never counted against readiness: a lost or recovering outbox delays
            # messages, while taking replicas out would stop every protected application.
            body["notifications"] = dict(notifications())
        if durability is not None:
            # Shown, not counted: forward-auth decisions need no writes, so a primary that
            # cannot confirm changes (replicas gone) must not take the deciders out too.
            body["durability"] = dict(durability())
        return JSONResponse(
            body, status_code=200 if ready else 503, headers={"cache-control": "no-store"}
        )

    @router.get("/metrics")
    async def prometheus() -> Response:
        if refresh_gauges is not None:
            try:
                async with asyncio.timeout(redis_timeout * 4):
                    await refresh_gauges()
            except Exception as exc:  # the counters are still worth scraping
                log.warning("metrics_gauges_unavailable", problem=str(exc)[:200] or "timeout")
        return Response(metrics(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return router

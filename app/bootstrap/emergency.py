"""Wiring of escalation and break-glass: the service over the parts, its sweep loop (one per
replica; the transitions make N loops write each event once), and the /metrics gauges."""

from __future__ import annotations

import asyncio

import structlog

from app.bootstrap.parts import Parts, utc_now
from app.services.emergency import EmergencyService

log = structlog.get_logger("countersign")


def emergency_of(parts: Parts) -> EmergencyService:
    """The escalation and break-glass service (stateless: one per router or task is fine)."""
    return EmergencyService(policies=parts.policies, store=parts.workflow, clock=utc_now)


async def escalate_forever(service: EmergencyService, interval: float) -> None:
    """Escalate due requests and report overdue break-glass reviews every `interval` seconds
    (COUNTERSIGN_SWEEP_INTERVAL). Errors are logged and the loop goes on."""
    while True:
        await asyncio.sleep(interval)
        try:
            escalated, overdue = await service.sweep()
            if escalated or overdue:
                log.info("sweep_escalated", requests=escalated, break_glass_overdue=overdue)
        except Exception as exc:  # Redis down: try again next tick
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.warning("escalation_sweep_failed", problem=str(exc)[:200])

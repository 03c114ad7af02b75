"""What the registrar announces: location events and blocked sources."""

from __future__ import annotations

import logging
import time

from centralino.bus import SYSTEM_TENANT, event_subject
from centralino.service import ServiceContext
from centralino.v1 import registrar_pb2
from centralino_registrar.defence import SourceBlocked
from centralino_registrar.metrics import BLOCKED_SOURCES, REGISTRATIONS

log = logging.getLogger(__name__)


class Announcer:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def location(
        self, event: str, location: registrar_pb2.Location, correlation_id: str = ""
    ) -> None:
        REGISTRATIONS.add(1, {"event": event})
        message = registrar_pb2.LocationEvent(
            meta=self.ctx.event_meta(location.tenant, correlation_id or location.call_id),
            event=event,
            location=location,
        )
        await self.ctx.bus.publish(
            event_subject(location.tenant, "registrar", "location", event), message
        )

    async def blocked(self, block: SourceBlocked, now: float) -> None:
        BLOCKED_SOURCES.add(1, {"reason": block.reason.value})
        log.warning(
            "blocked source %s for %.0f s after %d failures (%s)",
            block.source_ip,
            block.until - now,
            block.failures,
            block.reason.value,
        )
        message = registrar_pb2.SourceBlockedEvent(
            meta=self.ctx.event_meta(SYSTEM_TENANT),
            source_ip=block.source_ip,
            until_unix_ms=int((time.time() + block.until - now) * 1000),
            reason=block.reason.value,
            failures=block.failures,
        )
        await self.ctx.bus.publish(
            event_subject(SYSTEM_TENANT, "registrar", "source", "blocked"), message
        )

"""What a call leaves behind: call events on NATS and one CDR row when it ends.

Events go to ``centralino.<tenant>.call.<event>`` (created, ringing, answered, ended) with the
extension and account of both parties, for BLF, CDR and CTI consumers. The CDR row is keyed
by the caller-side Call-ID, so a retried write can never produce a second row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files

import asyncpg
from nats.errors import Error as NatsError

from centralino.bus import Bus, event_subject
from centralino.db import apply_migrations
from centralino.v1 import common_pb2, router_pb2

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CallRecord:
    """The facts of one call, filled in as it progresses."""

    call_id: str
    tenant: str
    origin: str
    dialled: str
    caller_extension: str = ""
    caller_account: str = ""
    caller_display_name: str = ""
    callee_extension: str = ""
    callee_account: str = ""
    started: float = 0.0
    answered: float | None = None
    ended: float | None = None
    cause: str = ""
    sip_status: int = 0
    detail: str = ""
    direct_media: bool = False
    published: set[str] = field(default_factory=set)

    @property
    def duration_ms(self) -> int:
        if self.answered is None or self.ended is None:
            return 0
        return int((self.ended - self.answered) * 1000)


class CallRecorder:
    def __init__(self, bus: Bus, instance: str, pool: asyncpg.Pool | None) -> None:
        self.bus = bus
        self.instance = instance
        self.pool = pool

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn:
            await apply_migrations(conn, "router", files("centralino_router") / "migrations")

    async def publish(self, record: CallRecord, event: str, now: float) -> None:
        """Publish ``event`` once per call (a retransmitted 180 is not a second ringing)."""
        if event in record.published:
            return
        record.published.add(event)
        msg = router_pb2.CallEvent(
            meta=common_pb2.EventMeta(
                tenant=record.tenant,
                source="router",
                instance=self.instance,
                time_unix_ms=int(now * 1000),
                correlation_id=record.call_id,
            ),
            call_id=record.call_id,
            event=event,
            origin=record.origin,
            caller_extension=record.caller_extension,
            caller_account=record.caller_account,
            callee_extension=record.callee_extension,
            callee_account=record.callee_account,
            cause=record.cause,
            sip_status=record.sip_status,
            duration_ms=record.duration_ms,
            dialled=record.dialled,
            caller_display_name=record.caller_display_name,
            router=self.instance,
            detail=record.detail,
            direct_media=record.direct_media,
        )
        try:
            await self.bus.publish(event_subject(record.tenant, "call", event), msg)
        except (NatsError, TimeoutError) as exc:
            # the call goes on; BLF/CTI miss one event, the CDR row still gets written
            log.warning("call event %s not published: %s", event, exc)

    async def write_cdr(self, record: CallRecord) -> None:
        if self.pool is None:
            return
        assert record.ended is not None
        await self.pool.execute(
            """INSERT INTO call_detail_records (call_id, tenant, origin, caller_extension,
                   caller_account, dialled, callee_extension, callee_account, started_at,
                   answered_at, ended_at, duration_ms, cause, sip_status, router)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
               ON CONFLICT (call_id) DO NOTHING""",
            record.call_id,
            record.tenant,
            record.origin,
            record.caller_extension,
            record.caller_account,
            record.dialled,
            record.callee_extension,
            record.callee_account,
            _ts(record.started),
            _ts(record.answered) if record.answered is not None else None,
            _ts(record.ended),
            record.duration_ms,
            record.cause,
            record.sip_status,
            self.instance,
        )


def _ts(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)

"""Delivers committed outbox rows to NATS JetStream, in order, at least once.

One publisher at a time holds a transaction-scoped advisory lock, so replicas do not
reorder events; rows are deleted only after JetStream acknowledged them, and each carries a
``Nats-Msg-Id`` so a publish repeated after a crash is dropped by JetStream's de-duplication.
While NATS is unreachable rows simply wait in the table (see docs/adr/0004).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import nats.errors
from opentelemetry import propagate

from centralino.bus import Bus
from centralino.bus.client import TYPE_HEADER
from centralino.bus.subjects import event_subject
from centralino.v1 import common_pb2, config_pb2
from centralino_config_api.db import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

_LOCK_KEY = 0x434F4278  # "COBx": the config outbox publisher
_BATCH = 500

MetaFactory = Callable[[str], common_pb2.EventMeta]


def event_of(row: Any, meta: common_pb2.EventMeta) -> config_pb2.ConfigChanged:
    return config_pb2.ConfigChanged(
        meta=meta,
        kind=row["kind"],
        id=row["entity_id"],
        op=row["op"],
        revision=row["revision"],
        key=row["key"],
    )


class OutboxPublisher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        meta: MetaFactory,
        *,
        poll_seconds: float = 2.0,
        publish_timeout: float = 2.0,
    ) -> None:
        self.pool = pool
        self.bus = bus
        self.meta = meta
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published = 0

    async def start(self) -> None:
        self._listener = await self.pool.acquire()
        await self._listener.add_listener(OUTBOX_CHANNEL, self._on_notify)
        self._task = asyncio.create_task(self._run(), name="config-outbox")

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await self._listener.remove_listener(OUTBOX_CHANNEL, self._on_notify)
            await self.pool.release(self._listener)
            self._listener = None

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            self._wake.clear()
            try:
                _, more = await self.flush_once()
                backoff = 0.2
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning("outbox: NATS publish failed, will retry: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox: database error, will retry: %s", exc)
                await asyncio.sleep(1.0)
                continue
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def flush_once(self) -> tuple[int, bool]:
        """Publish one batch; returns (published, whether rows may remain). Rows published
        before a failure are still deleted, then the failure propagates."""
        failure: BaseException | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _LOCK_KEY):
                return 0, False
            rows = await conn.fetch("SELECT * FROM outbox ORDER BY id LIMIT $1", _BATCH)
            done = 0
            try:
                for row in rows:
                    await self._publish(row)
                    done += 1
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                # keep what JetStream acknowledged: commit its deletion, then report
                failure = exc
            if done:
                await conn.execute("DELETE FROM outbox WHERE id <= $1", rows[done - 1]["id"])
                self.published += done
        if failure is not None:
            raise failure
        return done, len(rows) == _BATCH

    async def _publish(self, row: Any) -> None:
        event = event_of(row, self.meta(row["tenant"]))
        headers = {TYPE_HEADER: event.DESCRIPTOR.full_name, "Nats-Msg-Id": str(row["event_id"])}
        propagate.inject(headers)
        subject = event_subject(row["tenant"], "config", row["kind"], row["op"])
        await self.bus.js.publish(
            subject, event.SerializeToString(), headers=headers, timeout=self.publish_timeout
        )

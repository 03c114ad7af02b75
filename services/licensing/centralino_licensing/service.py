"""The licensing service process: wires its components to the shared runtime."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import time
from collections.abc import Callable

import asyncpg

from centralino.bus import SYSTEM_TENANT, event_subject
from centralino.db import apply_migrations
from centralino.service import ServiceContext
from centralino.settings import CommonSettings
from centralino.v1 import licensing_pb2, licensing_pb2_grpc
from centralino_licensing.expiry import ExpiryWatcher
from centralino_licensing.g729 import G729Activations
from centralino_licensing.licences import LicenceBook
from centralino_licensing.pool import ChannelPool
from centralino_licensing.records import LicenceRecord, unix_ms
from centralino_licensing.servicer import LicensingServicer
from centralino_licensing.settings import LicensingSettings

SERVICE_NAME = licensing_pb2.DESCRIPTOR.services_by_name["LicensingService"].full_name


def licence_subject(event: str) -> str:
    return event_subject(SYSTEM_TENANT, "licensing", "licence", event)


class LicensingService:
    grpc_services: list[str] = [SERVICE_NAME]

    def __init__(self, settings: CommonSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.own = LicensingSettings.from_env(settings.environ)
        self.clock = clock
        self.db: asyncpg.Pool | None = None
        self.watcher_task: asyncio.Task[None] | None = None

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.db = await asyncpg.create_pool(self.own.database_url, min_size=1, max_size=10)
        async with self.db.acquire() as conn:
            await apply_migrations(
                conn, "licensing", importlib.resources.files("centralino_licensing") / "migrations"
            )
        book = LicenceBook(self.db, self.own.public_key, self.own.serial)
        pool = ChannelPool(self.db, self.own.lease_ttl, self.own.max_lease_ttl)
        self.watcher = ExpiryWatcher(book, self.clock, self.notify)
        servicer = LicensingServicer(
            self.own, book, pool, G729Activations(book), self.clock, self.notify
        )
        licensing_pb2_grpc.add_LicensingServiceServicer_to_server(servicer, ctx.grpc.server)
        await ctx.bus.subscribe(
            licence_subject("activated"), licensing_pb2.LicenceEvent, self._on_activated
        )
        self.watcher_task = asyncio.create_task(self.watcher.run(), name="licence-expiry")

    async def _on_activated(self, subject: str, event: licensing_pb2.LicenceEvent) -> None:
        # A licence activated anywhere may expire before the one we are waiting for.
        self.watcher.wake.set()

    async def notify(self, record: LicenceRecord, event: str) -> None:
        message = licensing_pb2.LicenceEvent(
            meta=self.ctx.event_meta(SYSTEM_TENANT, correlation_id=record.id),
            licence_id=record.id,
            product=record.product,
            event=event,
            channels=record.channels,
            expires_unix_ms=unix_ms(record.expires_at),
        )
        await self.ctx.bus.publish(licence_subject(event), message)

    async def stop(self) -> None:
        if self.watcher_task is not None:
            self.watcher_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher_task
        if self.db is not None:
            await self.db.close()

"""The router service process: wires the B2BUA to the shared runtime."""

from __future__ import annotations

import logging

import asyncpg
import grpc

from centralino.bus import any_tenant
from centralino.bus.subjects import CALLS_PREFIX, RINGING_PREFIX
from centralino.grpcserver import channel
from centralino.service import ServiceContext
from centralino.settings import CommonSettings
from centralino.sip.transport import TransportKind, TransportManager
from centralino.v1 import config_pb2, media_pb2, router_pb2
from centralino_router.b2bua import B2bua
from centralino_router.counters import BUCKET as COUNTERS_BUCKET
from centralino_router.counters import CallCounter
from centralino_router.features.lock_store import BUCKET as LOCK_BUCKET
from centralino_router.features.lock_store import LockStore
from centralino_router.lookups import LOCATIONS_BUCKET, Lookups
from centralino_router.media import MediaClient
from centralino_router.records import CallRecorder
from centralino_router.settings import RouterSettings

log = logging.getLogger(__name__)


class RouterService:
    grpc_services: list[str] = []

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.router_settings = RouterSettings.from_env(settings.environ)
        self.b2bua: B2bua | None = None
        self.sip_port = 0
        self._transport: TransportManager | None = None
        self._channels: list[grpc.aio.Channel] = []
        self._pool: asyncpg.Pool | None = None

    async def start(self, ctx: ServiceContext) -> None:
        rs = self.router_settings
        if rs.database_url:
            self._pool = await asyncpg.create_pool(rs.database_url, min_size=1, max_size=4)
            await CallRecorder.migrate(self._pool)
        else:
            log.warning("DATABASE_URL is not set: calls are not written as CDR rows")
        config_channel = channel(self.settings.grpc_address("config-api"))
        media_channel = channel(self.settings.grpc_address("media"))
        self._channels = [config_channel, media_channel]
        locations = await ctx.bus.kv(LOCATIONS_BUCKET)
        counters = await ctx.bus.kv(COUNTERS_BUCKET)
        lock_state = await ctx.bus.kv(LOCK_BUCKET)
        lookups = Lookups(config_channel, locations)
        instance = self.settings.instance_id
        b2bua_ref: list[B2bua] = []
        self._transport = TransportManager(lambda data, flow: b2bua_ref[0].on_message(data, flow))
        listener = await self._transport.listen(TransportKind.UDP, *rs.sip_listen)
        self.sip_port = listener.local[1]
        host, port = rs.sip_advertise
        b2bua = B2bua(
            self._transport,
            advertised=(host, port or self.sip_port),
            registrar=rs.registrar_sip,
            lookups=lookups,
            counter=CallCounter(counters, instance, lease_seconds=rs.call_lease_seconds),
            media=MediaClient(media_channel, instance, rs.media_lease_seconds),
            recorder=CallRecorder(ctx.bus, instance, self._pool),
            renew_seconds=rs.call_lease_seconds / 3,
            lock_store=LockStore(lock_state),
            enum_nameservers=(
                ([rs.enum_nameserver[0]], rs.enum_nameserver[1]) if rs.enum_nameserver else None
            ),
        )
        b2bua_ref.append(b2bua)
        self.b2bua = b2bua

        async def on_config(_subject: str, event: config_pb2.ConfigChanged) -> None:
            lookups.invalidate()
            if event.kind in ("trunk", "tenant"):
                b2bua.spawn(b2bua.trunks.sync())

        async def on_inactive(_subject: str, event: media_pb2.MediaInactivity) -> None:
            b2bua.media_inactive(event.session_id, event.call_id)

        async def on_media_error(_subject: str, event: media_pb2.MediaError) -> None:
            # a session the media service ended (lease expired, ports exhausted...) leaves
            # the call without audio: end it like an inactive one
            b2bua.media_inactive(event.session_id, event.call_id)

        await ctx.bus.subscribe(any_tenant("config"), config_pb2.ConfigChanged, on_config)
        await ctx.bus.subscribe(
            any_tenant("media", "session", "inactive"), media_pb2.MediaInactivity, on_inactive
        )
        await ctx.bus.subscribe(
            any_tenant("media", "session", "error"), media_pb2.MediaError, on_media_error
        )
        await ctx.bus.answer(f"{RINGING_PREFIX}.*", router_pb2.RingingQuery, b2bua.ringing_calls)
        await ctx.bus.answer(f"{CALLS_PREFIX}.*", router_pb2.CallQuery, b2bua.where_is)
        await b2bua.trunks.sync()
        log.info("router SIP listening", extra={"sip": f"{listener.local[0]}:{self.sip_port}"})

    async def stop(self) -> None:
        if self.b2bua is not None:
            await self.b2bua.close()
        if self._transport is not None:
            await self._transport.close()
        for ch in self._channels:
            await ch.close(grace=None)
        if self._pool is not None:
            await self._pool.close()

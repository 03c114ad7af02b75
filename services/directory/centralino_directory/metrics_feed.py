"""The bus adapter of the SNMP numbers: NATS events into :class:`MetricsState`.

Registrations are primed from the registrar's ``locations`` KV bucket at start, so a
restarted agent reports the accounts already registered instead of counting from zero;
the licence pool is polled over gRPC (licensing publishes no usage events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import grpc
import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError

from centralino.bus import Bus
from centralino.bus.client import TYPE_HEADER
from centralino.bus.subjects import SubjectError, tenant_of
from centralino.v1 import (
    common_pb2,
    licensing_pb2,
    licensing_pb2_grpc,
    media_pb2,
    registrar_pb2,
    router_pb2,
)
from centralino_directory.snmp.metrics import MetricsState

log = logging.getLogger(__name__)

LOCATION_EVENTS = "centralino.*.registrar.location.*"
CALL_EVENTS = "centralino.*.call.*"
MEDIA_EVENTS = "centralino.*.media.>"
HEARTBEATS = "sys.centralino.heartbeat.*"
LOCATIONS_BUCKET = "locations"

_HEARTBEAT_STATE = {v: k for k, v in common_pb2.ServiceHeartbeat.State.items()}


class MetricsFeed:
    def __init__(
        self, metrics: MetricsState, bus: Bus, clock: Callable[[], float] = time.time
    ) -> None:
        self.metrics = metrics
        self.bus = bus
        self.clock = clock
        self._subs: list[Subscription] = []
        self._poller: asyncio.Task[None] | None = None
        #: notified after each event is counted, for whoever waits for the numbers
        self.changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # --- handlers (also called directly by tests) -------------------------------------

    async def on_location(self, subject: str, event: registrar_pb2.LocationEvent) -> None:
        loc = event.location
        self.metrics.on_location(
            loc.tenant or event.meta.tenant,
            loc.username,
            event.event,
            loc.expires_unix_ms,
            self.clock(),
        )

    async def on_call(self, subject: str, event: router_pb2.CallEvent) -> None:
        tenant = event.meta.tenant or _tenant(subject)
        self.metrics.on_call(tenant, event.call_id, event.event, self.clock())
        await self._notify()

    async def on_heartbeat(self, subject: str, beat: common_pb2.ServiceHeartbeat) -> None:
        state = _HEARTBEAT_STATE.get(beat.state, "")
        self.metrics.on_heartbeat(beat.service, beat.instance, state, self.clock())
        await self._notify()

    async def on_media(self, msg: Msg) -> None:
        kind = (msg.headers or {}).get(TYPE_HEADER, "")
        try:
            if kind == media_pb2.MediaStats.DESCRIPTOR.full_name:
                stats = media_pb2.MediaStats.FromString(msg.data)
                self.metrics.on_media_stats(stats.session_id, self.clock())
            elif kind == media_pb2.MediaInactivity.DESCRIPTOR.full_name:
                idle = media_pb2.MediaInactivity.FromString(msg.data)
                self.metrics.on_media_inactive(idle.session_id)
        except DecodeError:
            log.warning("dropping undecodable %s on %s", kind, msg.subject)
        await self._notify()

    # --- wiring -----------------------------------------------------------------------

    async def prime_registrations(self) -> int:
        """Count the locations already stored; returns how many were read."""
        try:
            kv = await self.bus.js.key_value(LOCATIONS_BUCKET)
            keys = await kv.keys()
        except (BucketNotFoundError, NoKeysError):
            return 0
        now = self.clock()
        count = 0
        for key in keys:
            try:
                entry = await kv.get(key)
                loc = registrar_pb2.Location.FromString(entry.value or b"")
            except (KeyNotFoundError, DecodeError):  # deleted meanwhile, or not ours to read
                continue
            if loc.username:
                self.metrics.on_location(
                    loc.tenant, loc.username, "registered", loc.expires_unix_ms, now
                )
                count += 1
        return count

    async def start(self) -> None:
        b = self.bus
        self._subs = [
            await b.subscribe(LOCATION_EVENTS, registrar_pb2.LocationEvent, self.on_location),
            await b.subscribe(CALL_EVENTS, router_pb2.CallEvent, self.on_call),
            await b.subscribe(HEARTBEATS, common_pb2.ServiceHeartbeat, self.on_heartbeat),
            await b.nc.subscribe(MEDIA_EVENTS, cb=self.on_media),
        ]
        await self.prime_registrations()

    def poll_licences(self, channel: grpc.aio.Channel, pool: str, every: float) -> None:
        stub = licensing_pb2_grpc.LicensingServiceStub(channel)

        async def loop() -> None:
            while True:
                try:
                    reply = await stub.PoolStatus(
                        licensing_pb2.PoolStatusRequest(pool=pool), timeout=5
                    )
                except grpc.aio.AioRpcError as exc:
                    log.debug("licence pool status unavailable: %s", exc.details())
                else:
                    self.metrics.set_licence_pool(max(0, reply.total), max(0, reply.in_use))
                    # The transcoding channels in use are the leases held in this pool.
                    self.metrics.transcoding_channels = max(0, reply.in_use)
                await asyncio.sleep(every)

        self._poller = asyncio.create_task(loop(), name="licence-pool-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):  # the connection may be closing
                await sub.unsubscribe()
        self._subs = []


def _tenant(subject: str) -> str:
    try:
        return tenant_of(subject)
    except SubjectError:
        return ""

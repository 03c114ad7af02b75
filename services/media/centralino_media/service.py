"""The media service process: wires the controller to the shared runtime (bus, gRPC)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from centralino.service import ServiceContext
from centralino.settings import CommonSettings
from centralino.v1 import media_pb2, media_pb2_grpc
from centralino_media.controller import EventSource, MediaController
from centralino_media.dataplane import DataPlane
from centralino_media.licences import GrpcLicenceGate
from centralino_media.ports import PortAllocator
from centralino_media.servicer import MediaServicer
from centralino_media.settings import MediaSettings

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class MediaService:
    grpc_services: list[str] = [media_pb2.DESCRIPTOR.services_by_name["MediaService"].full_name]

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.media_settings = MediaSettings.from_env(settings.environ)
        self.controller: MediaController | None = None
        self._licences: GrpcLicenceGate | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, ctx: ServiceContext) -> None:
        ms = self.media_settings
        plane = DataPlane(ms.bind_address, PortAllocator(ms.port_min, ms.port_max))
        self._licences = GrpcLicenceGate(
            self.settings.grpc_address("licensing"),
            owner=self.settings.instance_id,
            ttl_seconds=ms.g729_lease_seconds,
        )
        self.controller = MediaController(
            ms,
            plane,
            ctx.bus,
            EventSource(self.settings.service, self.settings.instance_id),
            self._licences,
        )
        media_pb2_grpc.add_MediaServiceServicer_to_server(
            MediaServicer(self.controller), ctx.grpc.server
        )
        self._tasks = [
            asyncio.create_task(self._every(TICK_SECONDS, self.controller.tick)),
            asyncio.create_task(
                self._every(self._licences.renew_seconds, self.controller.renew_licences)
            ),
        ]

    @staticmethod
    async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                # One failed round (NATS or licensing briefly gone) must not end housekeeping:
                # stopping would let every G.729 lease and session lease silently run out.
                log.exception("periodic %s failed; retrying next round", job.__name__)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.controller is not None:
            await self.controller.close()
            self.controller.plane.close()
        if self._licences is not None:
            await self._licences.close()

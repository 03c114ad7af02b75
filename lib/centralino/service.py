"""The process runtime every service shares.

A service is an object with ``start(ctx)`` and ``stop()``. :func:`run` builds its context
(settings, logging, telemetry, the bus, a gRPC server with health), starts it, marks it
SERVING, publishes heartbeats, and on SIGTERM/SIGINT stops it in reverse order so no task,
socket or connection is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import uvloop

from centralino import __version__
from centralino.bus import Bus, heartbeat_subject
from centralino.grpcserver import GrpcServer
from centralino.logs import setup_logging
from centralino.settings import CommonSettings
from centralino.telemetry import setup_telemetry
from centralino.v1 import common_pb2

log = logging.getLogger(__name__)


@dataclass
class ServiceContext:
    settings: CommonSettings
    bus: Bus
    grpc: GrpcServer

    def event_meta(self, tenant: str, correlation_id: str = "") -> common_pb2.EventMeta:
        return common_pb2.EventMeta(
            tenant=tenant,
            source=self.settings.service,
            instance=self.settings.instance_id,
            time_unix_ms=int(time.time() * 1000),
            correlation_id=correlation_id,
        )


class Service(Protocol):
    #: fully-qualified gRPC service names this service serves (for health/reflection)
    grpc_services: list[str]

    async def start(self, ctx: ServiceContext) -> None: ...

    async def stop(self) -> None: ...


async def _heartbeat(ctx: ServiceContext, state: common_pb2.ServiceHeartbeat.State) -> None:
    s = ctx.settings
    beat = common_pb2.ServiceHeartbeat(
        meta=ctx.event_meta("_system"),
        service=s.service,
        instance=s.instance_id,
        version=__version__,
        state=state,
        grpc_address=f"{s.grpc_listen.rpartition(':')[0]}:{ctx.grpc.port}",
    )
    await ctx.bus.publish(heartbeat_subject(s.service), beat, durable=False)


async def serve(service: Service, settings: CommonSettings, stop: asyncio.Event) -> None:
    """Run ``service`` until ``stop`` is set. Usable from tests without signals."""
    bus = await Bus.connect(settings.nats_url, f"{settings.service}/{settings.instance_id}")
    grpc_server = GrpcServer(settings.grpc_listen)
    ctx = ServiceContext(settings=settings, bus=bus, grpc=grpc_server)
    try:
        await bus.ensure_events_stream()
        await service.start(ctx)
        try:
            port = await grpc_server.start(service.grpc_services)
            log.info("serving", extra={"grpc_port": port})
            await _heartbeat(ctx, common_pb2.ServiceHeartbeat.SERVING)
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), settings.heartbeat_seconds)
                except TimeoutError:
                    await _heartbeat(ctx, common_pb2.ServiceHeartbeat.SERVING)
            log.info("stopping")
            await _heartbeat(ctx, common_pb2.ServiceHeartbeat.STOPPING)
            await grpc_server.stop()
        finally:
            await service.stop()
    finally:
        await bus.close()


_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> None:
    """Under ``centralino up`` (Linux), get SIGTERM when the supervisor dies."""
    supervisor = os.environ.get("CENTRALINO_SUPERVISOR_PID")
    if not supervisor:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(supervisor):  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def run(service_name: str, factory: Callable[[CommonSettings], Service]) -> None:
    """Entry point body for ``centralino-<service>``: blocks until SIGTERM/SIGINT."""
    _die_with_supervisor()
    settings = CommonSettings.from_env(service_name)
    setup_logging(service_name, settings.instance_id, settings.log_level, settings.log_format)
    setup_telemetry(service_name, settings.instance_id, settings.environ)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(factory(settings), settings, stop)

    uvloop.run(main())

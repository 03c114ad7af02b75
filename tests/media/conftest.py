"""Media test fixtures: the media service run in-process on real NATS, and UDP phones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import grpc
import pytest
from licensing.conftest import start_licensing  # noqa: F401  (fixture: the real licensing service)

from centralino.bus import Bus, heartbeat_subject
from centralino.runner.embedded import free_port
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, media_pb2, media_pb2_grpc
from centralino_media.service import MediaService

PORT_MIN, PORT_MAX = 30200, 30299


@dataclass
class Running:
    stub: media_pb2_grpc.MediaServiceStub
    bus: Bus
    events: dict[str, asyncio.Queue[object]] = field(default_factory=dict)


@pytest.fixture(scope="package")
async def media(nats_url: str) -> AsyncIterator[Running]:
    grpc_port = free_port()
    env = {
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
        "CENTRALINO_MEDIA_GRPC": f"127.0.0.1:{grpc_port}",
        "CENTRALINO_RTP_PORT_MIN": str(PORT_MIN),
        "CENTRALINO_RTP_PORT_MAX": str(PORT_MAX),
        "CENTRALINO_MEDIA_INACTIVITY_SECONDS": "2",
        "CENTRALINO_MEDIA_STATS_SECONDS": "1",
        # Nothing listens here: the licensing service is "down", so G.729 is unavailable.
        "CENTRALINO_LICENSING_GRPC": f"127.0.0.1:{free_port()}",
        "CENTRALINO_INSTANCE_ID": "media-test",
        "CENTRALINO_HEARTBEAT_SECONDS": "30",
    }
    settings = CommonSettings.from_env("media", env)
    bus = await Bus.connect(nats_url, "media-test-observer")
    serving = asyncio.Event()

    async def on_beat(_: str, beat: common_pb2.ServiceHeartbeat) -> None:
        if beat.state == common_pb2.ServiceHeartbeat.SERVING and beat.instance == "media-test":
            serving.set()

    await bus.subscribe(heartbeat_subject("media"), common_pb2.ServiceHeartbeat, on_beat)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(MediaService(settings), settings, stop))
    await asyncio.wait_for(serving.wait(), 20)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        yield Running(media_pb2_grpc.MediaServiceStub(channel), bus)
    finally:
        await channel.close(grace=None)
        stop.set()
        await asyncio.wait_for(task, 20)
        await bus.close()


class UdpPhone(asyncio.DatagramProtocol):
    """A UDP socket on loopback that collects what it receives."""

    def __init__(self, want: int) -> None:
        self.received: list[bytes] = []
        self.sources: set[tuple[str, int]] = set()
        self.want = want
        self.enough = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 2 and 192 <= data[1] <= 223:
            return  # RTCP
        self.received.append(data)
        self.sources.add(addr)
        if len(self.received) >= self.want:
            self.enough.set()


async def udp_phone(want: int) -> tuple[UdpPhone, int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: UdpPhone(want), local_addr=("127.0.0.1", 0)
    )
    return proto, transport.get_extra_info("sockname")[1]


async def media_events(bus: Bus, tenant: str, kind: str, message: type) -> asyncio.Queue[object]:
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def handler(_: str, event: object) -> None:
        queue.put_nowait(event)

    await bus.subscribe(f"centralino.{tenant}.media.session.{kind}", message, handler)
    return queue


def leg_spec(name: str, codecs: list[str], **kw: bool) -> media_pb2.LegSpec:
    return media_pb2.LegSpec(name=name, codecs=codecs, **kw)

"""The media service's metrics, observed from a real service relaying real RTP (FEAT-03):
``centralino.media.transcoding.channels`` follows the sessions that transcode, and
``centralino.media.rtp.packets`` counts what the relay received and sent, and keeps
counting it after the session is released (a cumulative counter never goes back)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from media.conftest import leg_spec, udp_phone
from router.conftest import _env, _serve, _stop

from centralino.bus import Bus
from centralino.runner.embedded import free_port
from centralino.settings import CommonSettings
from centralino.v1 import media_pb2, media_pb2_grpc
from centralino_media.metrics import RTP_PACKETS, TRANSCODING_CHANNELS
from centralino_media.service import MediaService
from centralino_media.simphone import SimPhone, tone

from .conftest import Telemetry
from .readings import sum_of

#: this module's RTP ports
RTP = (30460, 30479)
PACKETS = 25


@pytest.fixture(scope="module")
async def media(nats_url: str, bus: Bus) -> AsyncIterator[media_pb2_grpc.MediaServiceStub]:
    address = f"127.0.0.1:{free_port()}"
    env = _env(
        "",
        nats_url,
        CENTRALINO_GRPC_LISTEN=address,
        CENTRALINO_MEDIA_BIND="127.0.0.1",
        CENTRALINO_RTP_PORT_MIN=str(RTP[0]),
        CENTRALINO_RTP_PORT_MAX=str(RTP[1]),
        # nothing listens: no G.729, which these tests do not need
        CENTRALINO_LICENSING_GRPC=f"127.0.0.1:{free_port()}",
    )
    settings = CommonSettings.from_env("media", env)
    task = await _serve(MediaService(settings), settings, bus)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            yield media_pb2_grpc.MediaServiceStub(channel)
    finally:
        await _stop(task)


async def test_transcoding_channels_and_rtp_packets_FEAT_03(
    telemetry: Telemetry, media: media_pb2_grpc.MediaServiceStub
) -> None:
    reader = telemetry.metrics

    def packets() -> tuple[int, int]:
        return (
            sum_of(reader, RTP_PACKETS, direction="in"),
            sum_of(reader, RTP_PACKETS, direction="out"),
        )

    channels = sum_of(reader, TRANSCODING_CHANNELS)
    before_in, before_out = packets()
    session = await media.Allocate(
        media_pb2.AllocateRequest(
            call_id="metrics-1",
            owner="telemetry-tests",
            lease_seconds=30,
            tenant=f"t{uuid.uuid4().hex[:8]}",
            legs=[leg_spec("a", ["PCMA"]), leg_spec("b", ["OPUS"])],
        )
    )
    phone_a, port_a = await udp_phone(want=1)
    phone_b, port_b = await udp_phone(want=PACKETS - 5)
    sim_a = SimPhone("127.0.0.1", port_a, ("PCMA",))
    sim_b = SimPhone("127.0.0.1", port_b, ("OPUS",))
    offer_a = sim_a.offer()
    updated = await media.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id, leg="a", remote_sdp=offer_a, remote_is_offer=True
        )
    )
    sim_a.learn(offer_a, updated.legs[0].local_sdp, offerer=True)
    updated = await media.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id,
            leg="b",
            remote_sdp=sim_b.answer(session.legs[1].local_sdp),
        )
    )
    assert updated.transcoding
    assert sum_of(reader, TRANSCODING_CHANNELS) == channels + 1

    assert phone_a.transport is not None
    relay_a = ("127.0.0.1", updated.legs[0].local_rtp_port)
    for packet in sim_a.packets(tone(1000, PACKETS * 0.02, 8000)):
        phone_a.transport.sendto(packet, relay_a)
    await asyncio.wait_for(phone_b.enough.wait(), 10)
    during_in, during_out = packets()
    assert during_in - before_in >= PACKETS - 5
    assert during_out - before_out >= PACKETS - 5

    released = await media.Release(media_pb2.ReleaseRequest(session_id=session.session_id))
    assert released.released
    assert sum_of(reader, TRANSCODING_CHANNELS) == channels
    after_in, after_out = packets()
    assert after_in >= during_in and after_out >= during_out

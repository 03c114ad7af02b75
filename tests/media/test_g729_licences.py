"""G.729 channel leases against the real licensing service (FEAT-03, G729-02/03).

Licensing runs in-process on the session's NATS and a fresh PostgreSQL database, with a G.729
licence activated through its three steps from a key minted here; media runs in-process and
asks it for one ``g729`` lease per session that may transcode G.729. The licensing clock is
a settable one, so lease expiry is tested by moving it rather than by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from licensing.conftest import Clock, Start, activate_g729, mint
from licensing.conftest import Running as Licensing

from centralino.bus import Bus, heartbeat_subject
from centralino.runner.embedded import free_port
from centralino.sdp import SessionDescription, streams
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, licensing_pb2, media_pb2, media_pb2_grpc
from centralino_media.service import MediaService
from centralino_media.simphone import SimPhone, peak_frequency, tone

from .conftest import leg_spec, media_events, udp_phone

# Apart from the package's shared media service (30200-30299), which keeps running.
PORT_MIN, PORT_MAX = 30300, 30339
# Long enough that media's own renewal timer (every half of it) never fires during a test:
# expiry is driven by the licensing clock.
LEASE_TTL = 600


@dataclass
class Media:
    service: MediaService
    stub: media_pb2_grpc.MediaServiceStub
    bus: Bus

    async def allocate(
        self, a: list[str], b: list[str], tenant: str = ""
    ) -> media_pb2.MediaSession:
        return await self.stub.Allocate(
            media_pb2.AllocateRequest(
                call_id=f"call-{uuid.uuid4().hex[:8]}",
                owner="router-test",
                lease_seconds=LEASE_TTL,
                tenant=tenant,
                legs=[leg_spec("a", a), leg_spec("b", b)],
            )
        )

    async def release(self, session: media_pb2.MediaSession) -> bool:
        reply = await self.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))
        return bool(reply.released)

    async def renew_licences(self) -> None:
        assert self.service.controller is not None
        await self.service.controller.renew_licences()


@contextlib.asynccontextmanager
async def media_service(nats_url: str, licensing_address: str) -> AsyncIterator[Media]:
    grpc_port = free_port()
    instance = f"media-g729-{uuid.uuid4().hex[:6]}"
    env = {
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
        "CENTRALINO_RTP_PORT_MIN": str(PORT_MIN),
        "CENTRALINO_RTP_PORT_MAX": str(PORT_MAX),
        "CENTRALINO_LICENSING_GRPC": licensing_address,
        "CENTRALINO_MEDIA_G729_LEASE_SECONDS": str(LEASE_TTL),
        "CENTRALINO_INSTANCE_ID": instance,
        "CENTRALINO_HEARTBEAT_SECONDS": "30",
    }
    settings = CommonSettings.from_env("media", env)
    bus = await Bus.connect(nats_url, f"{instance}-observer")
    serving = asyncio.Event()

    async def on_beat(_: str, beat: common_pb2.ServiceHeartbeat) -> None:
        if beat.state == common_pb2.ServiceHeartbeat.SERVING and beat.instance == instance:
            serving.set()

    await bus.subscribe(heartbeat_subject("media"), common_pb2.ServiceHeartbeat, on_beat)
    service = MediaService(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(service, settings, stop))
    await asyncio.wait_for(serving.wait(), 20)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            yield Media(service, media_pb2_grpc.MediaServiceStub(channel), bus)
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await bus.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def licensing(start_licensing: Start, clock: Clock) -> Licensing:
    return await start_licensing(clock, CENTRALINO_LICENCE_LEASE_MAX_TTL=str(LEASE_TTL))


async def in_use(licensing: Licensing) -> int:
    status = await licensing.stub.PoolStatus(licensing_pb2.PoolStatusRequest(pool="g729"))
    return int(status.in_use)


def offered(session: media_pb2.MediaSession, leg: int) -> list[str]:
    sdp = SessionDescription.parse(session.legs[leg].local_sdp)
    return [f.codec for f in streams(sdp)[0].formats]


async def test_g729_transcoding_session_holds_a_lease_until_release_FEAT_03(
    licensing: Licensing, nats_url: str
) -> None:
    await activate_g729(licensing.stub, mint("g729", channels=2))
    async with media_service(nats_url, licensing.address) as media:
        session = await media.allocate(["G729"], ["PCMU"])
        assert offered(session, 0) == ["G729"]
        assert await in_use(licensing) == 1

        # The call really transcodes: A speaks G.729, B hears the tone in PCMU.
        phone_b, port_b = await udp_phone(want=20)
        phone_a, _ = await udp_phone(want=1)
        sim_a = SimPhone("127.0.0.1", 4000, ("G729",))
        sim_b = SimPhone("127.0.0.1", port_b, ("PCMU",))
        for leg, sim in (("a", sim_a), ("b", sim_b)):
            index = 0 if leg == "a" else 1
            answer = sim.answer(session.legs[index].local_sdp)
            updated = await media.stub.UpdateLeg(
                media_pb2.UpdateLegRequest(
                    session_id=session.session_id, leg=leg, remote_sdp=answer
                )
            )
        assert updated.transcoding
        assert [leg.codec for leg in updated.legs] == ["G729", "PCMU"]
        assert phone_a.transport is not None
        relay_a = ("127.0.0.1", updated.legs[0].local_rtp_port)
        for packet in sim_a.packets(tone(800, 0.6, 8000)):
            phone_a.transport.sendto(packet, relay_a)
        await asyncio.wait_for(phone_b.enough.wait(), 10)
        pcm, _ = sim_b.decode(phone_b.received)
        assert abs(peak_frequency(pcm[800:], 8000) - 800) < 15

        assert await media.release(session)
        assert await in_use(licensing) == 0


async def test_one_channel_pool_falls_back_then_fails_clearly_FEAT_03(
    licensing: Licensing, nats_url: str
) -> None:
    await activate_g729(licensing.stub, mint("g729", channels=1))
    async with media_service(nats_url, licensing.address) as media:
        first = await media.allocate(["G729"], ["PCMU"])
        assert await in_use(licensing) == 1

        # No channel left: a leg with alternatives is offered them, without G.729.
        fallback = await media.allocate(["G729", "PCMA"], ["PCMU"])
        assert offered(fallback, 0) == ["PCMA"]
        # A leg offering only G.729 that would need transcoding cannot be served.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await media.allocate(["G729"], ["PCMU"])
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = refused.value.details() or ""
        assert "only G.729" in details and "1 of 1 channels in use" in details
        # G.729 passed through untouched needs no channel.
        passthrough = await media.allocate(["G729"], ["G729"])
        assert offered(passthrough, 0) == offered(passthrough, 1) == ["G729"]
        assert await in_use(licensing) == 1

        # The channel comes back at the end of the first call.
        assert await media.release(first)
        assert await in_use(licensing) == 0
        second = await media.allocate(["G729"], ["PCMU"])
        assert offered(second, 0) == ["G729"]
        assert await in_use(licensing) == 1
        for session in (fallback, passthrough, second):
            assert await media.release(session)
        assert await in_use(licensing) == 0


async def test_renewal_keeps_the_lease_alive_and_replaces_a_lost_one_FEAT_03(
    licensing: Licensing, clock: Clock, nats_url: str
) -> None:
    await activate_g729(licensing.stub, mint("g729", channels=1))
    async with media_service(nats_url, licensing.address) as media:
        tenant = f"t{uuid.uuid4().hex[:8]}"
        warnings = await media_events(media.bus, tenant, "warning", media_pb2.MediaWarning)
        session = await media.allocate(["G729"], ["PCMU"], tenant)
        assert await in_use(licensing) == 1

        # Renewed at two thirds of its TTL, the lease outlives its first expiry.
        clock.now += LEASE_TTL * 2 / 3
        await media.renew_licences()
        clock.now += LEASE_TTL * 2 / 3
        assert await in_use(licensing) == 1

        # Not renewed for a whole TTL (licensing was unreachable), it expires...
        clock.now += LEASE_TTL + 1
        assert await in_use(licensing) == 0
        # ...and the next renewal takes a new one for the same session.
        await media.renew_licences()
        assert await in_use(licensing) == 1
        assert warnings.empty()

        # Lost again while someone else took the only channel: the router is warned, once.
        clock.now += LEASE_TTL + 1
        other = await licensing.stub.AcquireChannel(
            licensing_pb2.AcquireChannelRequest(pool="g729", owner="elsewhere", session_id="x")
        )
        await media.renew_licences()
        warning = await asyncio.wait_for(warnings.get(), 5)
        assert isinstance(warning, media_pb2.MediaWarning)
        assert (warning.code, warning.session_id) == ("g729_licence_lost", session.session_id)
        assert "exhausted" in warning.message
        await media.renew_licences()
        # Once the channel is free again the session gets it back, silently.
        await licensing.stub.ReleaseChannel(licensing_pb2.LeaseRef(lease_id=other.lease_id))
        await media.renew_licences()
        assert await in_use(licensing) == 1
        assert warnings.empty()

        assert await media.release(session)
        assert await in_use(licensing) == 0

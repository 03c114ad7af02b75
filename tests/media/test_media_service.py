"""The media service end to end: real NATS, real gRPC, real UDP sockets on loopback, ffmpeg.

FEAT-02/03 (SRTP on one leg, transcoding), ACC-12 (latching), ACC-17 (warning event), leases,
inactivity and stats events, G.729 only with a licence.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import grpc
import numpy as np
import pytest

from centralino.sdp import SessionDescription, first_stream, streams
from centralino.v1 import media_pb2
from centralino_media.simphone import SimPhone, peak_frequency, tone, tone_snr_db

from .conftest import PORT_MAX, PORT_MIN, Running, leg_spec, media_events, udp_phone


async def test_srtp_to_opus_call_through_the_service(media: Running) -> None:
    """A (PCMA, SRTP, NAT, plain-UDP signalling) calls B (Opus): B hears A's tone."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    warnings = await media_events(media.bus, tenant, "warning", media_pb2.MediaWarning)
    stats = await media_events(media.bus, tenant, "stats", media_pb2.MediaStats)
    inactive = await media_events(media.bus, tenant, "inactive", media_pb2.MediaInactivity)
    session = await media.stub.Allocate(
        media_pb2.AllocateRequest(
            call_id="call-1",
            owner="router-1",
            lease_seconds=30,
            tenant=tenant,
            legs=[
                leg_spec("a", ["PCMA"], srtp=True, nat=True, signalling_tls=False),
                leg_spec("b", ["OPUS", "G729", "PCMU"]),
            ],
        )
    )
    ports = [leg.local_rtp_port for leg in session.legs]
    assert all(PORT_MIN <= p <= PORT_MAX and p % 2 == 0 for p in ports)
    offer_b = SessionDescription.parse(session.legs[1].local_sdp)
    # No licensing service: G.729 is left out of B's offer, the rest keeps its order.
    assert [f.codec for f in streams(offer_b)[0].formats] == ["OPUS", "PCMU"]

    phone_a, _ = await udp_phone(want=40)
    phone_b, port_b = await udp_phone(want=45)
    # A's SDP advertises a private address; with NAT on, the relay latches to the real source.
    sim_a = SimPhone("10.1.2.3", 4000, ("PCMA",), srtp=True)
    sim_b = SimPhone("127.0.0.1", port_b, ("OPUS",))
    offer_a = sim_a.offer()
    updated = await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id, leg="a", remote_sdp=offer_a, remote_is_offer=True
        )
    )
    answer_a = updated.legs[0].local_sdp
    sim_a.learn(offer_a, answer_a, offerer=True)
    answer_b = sim_b.answer(session.legs[1].local_sdp)
    updated = await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(session_id=session.session_id, leg="b", remote_sdp=answer_b)
    )
    assert updated.transcoding and updated.legs[0].srtp and not updated.legs[1].srtp
    assert updated.legs[0].codec == "PCMA" and updated.legs[1].codec == "OPUS"
    warning = await asyncio.wait_for(warnings.get(), 5)
    assert isinstance(warning, media_pb2.MediaWarning) and warning.code == "srtp_without_tls"

    relay_a = ("127.0.0.1", updated.legs[0].local_rtp_port)
    relay_b = ("127.0.0.1", updated.legs[1].local_rtp_port)
    assert phone_a.transport is not None and phone_b.transport is not None
    for packet in sim_a.packets(tone(1000, 1.0, 8000)):
        phone_a.transport.sendto(packet, relay_a)
    await asyncio.wait_for(phone_b.enough.wait(), 10)
    pcm, _ = sim_b.decode(phone_b.received)
    assert abs(peak_frequency(pcm[4800:], 48000) - 1000) < 10
    assert tone_snr_db(pcm[4800:], 48000, 1000) > 10
    assert phone_b.sources == {relay_b}

    # B answers; A was latched at its real source port, not the SDP's 10.1.2.3:4000.
    for packet in sim_b.packets(tone(600, 1.0, 48000)):
        phone_b.transport.sendto(packet, relay_b)
    await asyncio.wait_for(phone_a.enough.wait(), 10)
    pcm_a, _ = sim_a.decode(phone_a.received)
    assert abs(peak_frequency(pcm_a[800:], 8000) - 600) < 10

    stat = await asyncio.wait_for(stats.get(), 5)
    assert isinstance(stat, media_pb2.MediaStats) and stat.call_id == "call-1"
    # Silence now: the router is told the call looks dead.
    idle = await asyncio.wait_for(inactive.get(), 10)
    assert isinstance(idle, media_pb2.MediaInactivity) and idle.idle_seconds >= 2

    released = await media.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))
    assert released.released
    again = await media.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))
    assert not again.released


async def test_dead_router_lease_is_reaped(media: Running) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    errors = await media_events(media.bus, tenant, "error", media_pb2.MediaError)
    session = await media.stub.Allocate(
        media_pb2.AllocateRequest(
            call_id="call-2",
            owner="router-dead",
            lease_seconds=1,
            tenant=tenant,
            legs=[leg_spec("a", ["PCMU"]), leg_spec("b", ["PCMU"])],
        )
    )
    renewed = await media.stub.Renew(
        media_pb2.RenewRequest(session_id=session.session_id, lease_seconds=1)
    )
    assert renewed.lease_expires_unix_ms >= session.lease_expires_unix_ms
    error = await asyncio.wait_for(errors.get(), 10)
    assert isinstance(error, media_pb2.MediaError)
    assert (error.code, error.session_id) == ("lease_expired", session.session_id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await media.stub.GetSession(media_pb2.GetSessionRequest(session_id=session.session_id))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_requests_get_specific_errors(media: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await media.stub.Allocate(
            media_pb2.AllocateRequest(call_id="c", owner="o", legs=[leg_spec("a", ["PCMU"])])
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await media.stub.Allocate(
            media_pb2.AllocateRequest(
                call_id="c", owner="o", legs=[leg_spec("a", ["AMR"]), leg_spec("b", ["PCMU"])]
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "AMR" in (info.value.details() or "")
    session = await media.stub.Allocate(
        media_pb2.AllocateRequest(
            call_id="c", owner="o", legs=[leg_spec("a", ["GSM"]), leg_spec("b", ["PCMU"])]
        )
    )
    for sdp, code in [
        (b"garbage", grpc.StatusCode.INVALID_ARGUMENT),
        (SimPhone("127.0.0.1", 9, ("OPUS",)).offer(), grpc.StatusCode.FAILED_PRECONDITION),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await media.stub.UpdateLeg(
                media_pb2.UpdateLegRequest(
                    session_id=session.session_id, leg="a", remote_sdp=sdp, remote_is_offer=True
                )
            )
        assert info.value.code() == code
    await media.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_ffmpeg_srtp_sender_heard_by_plain_pcma_phone(media: Running) -> None:
    """A real, independent SRTP sender (ffmpeg, PCMU) through the relay to a plain PCMA leg."""
    session = await media.stub.Allocate(
        media_pb2.AllocateRequest(
            call_id="call-ffmpeg",
            owner="router-1",
            legs=[leg_spec("a", ["PCMU"], srtp=True, signalling_tls=True), leg_spec("b", ["PCMA"])],
        )
    )
    key = np.random.default_rng(5).integers(0, 256, 30, dtype=np.uint8).tobytes()
    key_b64 = base64.b64encode(key).decode()
    ffmpeg_port = 30420  # and 30421 for its RTCP: ffmpeg binds both
    offer_a = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=ffmpeg\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {ffmpeg_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key_b64}\r\n"
    ).encode()
    updated = await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id, leg="a", remote_sdp=offer_a, remote_is_offer=True
        )
    )
    assert first_stream(SessionDescription.parse(updated.legs[0].local_sdp), "audio") is not None
    phone_b, port_b = await udp_phone(want=40)
    sim_b = SimPhone("127.0.0.1", port_b, ("PCMA",))
    await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id,
            leg="b",
            remote_sdp=sim_b.answer(session.legs[1].local_sdp),
        )
    )
    relay_a = updated.legs[0].local_rtp_port
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "sine=frequency=1000:duration=1.2:sample_rate=8000",
        "-ac", "1", "-c:a", "pcm_mulaw", "-payload_type", "0",
        "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", key_b64,
        "-f", "rtp", f"srtp://127.0.0.1:{relay_a}?localrtpport={ffmpeg_port}&pkt_size=172",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, stderr.decode()
    await asyncio.wait_for(phone_b.enough.wait(), 10)
    pcm, packets = sim_b.decode(phone_b.received)
    assert {p.payload_type for p in packets} == {8}
    assert abs(peak_frequency(pcm[800:], 8000) - 1000) < 10
    assert tone_snr_db(pcm[800:], 8000, 1000) > 20
    await media.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))


def _port_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
async def test_ffmpeg_decodes_our_opus_rtp_RFC_7587(media: Running, tmp_path: Path) -> None:
    """PCMA from A is transcoded to Opus for B, and B is ffmpeg: an independent decoder."""
    session = await media.stub.Allocate(
        media_pb2.AllocateRequest(
            call_id="call-opus-out",
            owner="router-1",
            legs=[leg_spec("a", ["PCMA"]), leg_spec("b", ["OPUS"])],
        )
    )
    sim_a = SimPhone("127.0.0.1", 30410, ("PCMA",))
    offer_a = sim_a.offer()
    updated = await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(
            session_id=session.session_id, leg="a", remote_sdp=offer_a, remote_is_offer=True
        )
    )
    sim_a.learn(offer_a, updated.legs[0].local_sdp, offerer=True)
    ffmpeg_port = 30400  # ffmpeg binds it and the next one (RTCP)
    answer_b = SimPhone("127.0.0.1", ffmpeg_port, ("OPUS",)).answer(session.legs[1].local_sdp)
    await media.stub.UpdateLeg(
        media_pb2.UpdateLegRequest(session_id=session.session_id, leg="b", remote_sdp=answer_b)
    )
    sdp = tmp_path / "b.sdp"
    sdp.write_bytes(answer_b)
    out = tmp_path / "b.raw"
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp",
        "-i", str(sdp), "-t", "1.0", "-ac", "1", "-ar", "48000", "-f", "s16le", str(out),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        # No readiness event from ffmpeg: wait until it holds its RTP port.
        for _ in range(200):
            if _port_bound(ffmpeg_port):
                break
            await asyncio.sleep(0.02)
        sender, _ = await udp_phone(want=1)
        assert sender.transport is not None
        relay_a = ("127.0.0.1", updated.legs[0].local_rtp_port)
        for packet in sim_a.packets(tone(1000, 2.0, 8000)):
            sender.transport.sendto(packet, relay_a)
            await asyncio.sleep(0.002)  # ~10x real time: ffmpeg's jitter buffer keeps up
        _, stderr = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    pcm = np.frombuffer(out.read_bytes(), dtype=np.int16)
    assert len(pcm) >= 40000
    assert abs(peak_frequency(pcm[4800:], 48000) - 1000) < 10
    assert tone_snr_db(pcm[4800:], 48000, 1000) > 10
    await media.stub.Release(media_pb2.ReleaseRequest(session_id=session.session_id))

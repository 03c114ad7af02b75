"""The sans-IO media core driven by simulated phones: relay, transcode, SRTP, NAT, DTMF.

FEAT-02 (RTP and SRTP), FEAT-03 (transcoding), ACC-12 (NAT latching), ACC-16/17 (SRTP).
"""

from __future__ import annotations

import itertools
import random

import pytest

from centralino.rtp import RtpPacket, TelephoneEvent
from centralino.sdp import CryptoAttribute, streams
from centralino_media.relay import Datagram, LegPorts, LegSettings, MediaSession
from centralino_media.simphone import SimPhone, peak_frequency, telephone_event, tone, tone_snr_db

A_PORTS = LegPorts(audio=(30100, 30101))
B_PORTS = LegPorts(audio=(30102, 30103))


def _session(a: LegSettings, b: LegSettings) -> MediaSession:
    return MediaSession(
        "s1", "127.0.0.1", [a, b], {"a": A_PORTS, "b": B_PORTS}, rng=random.Random(7)
    )


def _call(sa: LegSettings, sb: LegSettings, pa: SimPhone, pb: SimPhone) -> MediaSession:
    """A calls B: A's offer answered by us, our offer to B answered by B."""
    session = _session(sa, sb)
    offer_a = pa.offer()
    session.update("a", offer_a, is_offer=True)
    pa.learn(offer_a, session.local_sdp("a").serialize(), offerer=True)
    offer_b = session.local_sdp("b").serialize()
    session.update("b", pb.answer(offer_b), is_offer=False)
    return session


def _pump(
    session: MediaSession, port: int, packets: list[bytes], source: tuple[str, int]
) -> list[Datagram]:
    out: list[Datagram] = []
    for i, p in enumerate(packets):
        out.extend(session.receive(port, p, source, 100.0 + 0.02 * i))
    return out


def _to(datagrams: list[Datagram], phone: SimPhone) -> list[bytes]:
    return [d.data for d in datagrams if d.address == phone.address]


def test_same_codec_is_relayed_byte_exact_payload_FEAT_03() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA", "PCMU"))
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA", "PCMU")), pa, pb)
    assert not s.transcoding
    sent = pa.packets(tone(1000, 1.0, 8000))
    out = _pump(s, 30100, sent, pa.address)
    assert all(d.local_port == 30102 for d in out)
    received = [RtpPacket.parse(d) for d in _to(out, pb)]
    originals = [RtpPacket.parse(p) for p in sent]
    assert len(received) == len(originals) == 50
    assert [r.payload for r in received] == [o.payload for o in originals]
    # Our own SSRC on B's leg; sequence numbers and timestamps continuous.
    assert {r.ssrc for r in received} == {s.bridges["audio"].endpoints["b"].ssrc}
    seqs = [r.sequence_number for r in received]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    assert all(
        (b.timestamp - a.timestamp) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(received)
    )


@pytest.mark.parametrize(
    ("codec_a", "codec_b"),
    [
        ("PCMA", "OPUS"),
        ("PCMU", "PCMA"),
        ("G722", "PCMU"),
        ("GSM", "G726"),
        ("G729", "G722"),
        ("OPUS", "GSM"),
    ],
)
def test_transcoding_far_end_hears_the_tone_FEAT_03(codec_a: str, codec_b: str) -> None:
    pa = SimPhone("192.0.2.1", 4000, (codec_a,))
    pb = SimPhone("192.0.2.2", 5000, (codec_b,))
    s = _call(LegSettings("a", (codec_a,)), LegSettings("b", (codec_b,)), pa, pb)
    assert s.transcoding
    out = _pump(s, 30100, pa.packets(tone(1000, 1.0, pa.rate)), pa.address)
    pcm, packets = pb.decode(_to(out, pb))
    assert len(packets) >= 48
    assert abs(peak_frequency(pcm[pb.rate // 5 :], pb.rate) - 1000) < 15
    assert tone_snr_db(pcm[pb.rate // 5 :], pb.rate, 1000) > 10
    # And the other way round at the same time (full duplex).
    back = _pump(s, 30102, pb.packets(tone(700, 1.0, pb.rate)), pb.address)
    pcm_a, _ = pa.decode(_to(back, pa))
    assert abs(peak_frequency(pcm_a[pa.rate // 5 :], pa.rate) - 700) < 15


def test_repacketisation_20ms_to_30ms() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMU",), ptime=20)
    pb = SimPhone("192.0.2.2", 5000, ("PCMU",), ptime=30)
    s = _call(LegSettings("a", ("PCMU",)), LegSettings("b", ("PCMU",)), pa, pb)
    out = _pump(s, 30100, pa.packets(tone(440, 0.6, 8000)), pa.address)
    pcm, packets = pb.decode(_to(out, pb))
    assert {len(p.payload) for p in packets} == {240}
    assert len(packets) == 20  # 600 ms in 30 ms packets
    ts = [p.timestamp for p in packets]
    assert all((b - a) & 0xFFFFFFFF == 240 for a, b in itertools.pairwise(ts))
    assert abs(peak_frequency(pcm, 8000) - 440) < 15


def test_srtp_one_side_plain_other_ACC_16() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",), srtp=True)
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",))
    s = _call(LegSettings("a", ("PCMA",), srtp=True), LegSettings("b", ("PCMA",)), pa, pb)
    sent = pa.packets(tone(1000, 0.5, 8000))
    assert len(sent[0]) == 12 + 160 + 10  # header, encrypted payload, 80-bit auth tag
    out = _pump(s, 30100, sent, pa.address)
    pcm, packets = pb.decode(_to(out, pb))  # B gets plain RTP
    assert len(packets) == 25 and abs(peak_frequency(pcm, 8000) - 1000) < 15
    back = _pump(s, 30102, pb.packets(tone(500, 0.5, 8000)), pb.address)
    pcm_a, _ = pa.decode(_to(back, pa))  # A gets SRTP it can authenticate
    assert abs(peak_frequency(pcm_a, 8000) - 500) < 15


def test_srtp_replayed_and_tampered_packets_dropped_and_counted_ACC_16() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMU",), srtp=True)
    pb = SimPhone("192.0.2.2", 5000, ("PCMU",))
    s = _call(LegSettings("a", ("PCMU",), srtp=True), LegSettings("b", ("PCMU",)), pa, pb)
    sent = pa.packets(tone(1000, 0.2, 8000))
    tampered = bytearray(sent[5])
    tampered[20] ^= 0x01
    stream = [*sent[:5], bytes(tampered), sent[3], sent[4], *sent[5:]]
    out = _pump(s, 30100, stream, pa.address)
    counters = s.bridges["audio"].endpoints["a"].counters
    assert (counters.dropped_auth, counters.dropped_replay) == (1, 2)
    assert len(_to(out, pb)) == len(sent) == counters.packets_in


def test_srtp_warns_without_tls_ACC_17() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",), srtp=True)
    session = _session(
        LegSettings("a", ("PCMA",), srtp=True, signalling_tls=False), LegSettings("b", ("PCMA",))
    )
    warnings = session.update("a", pa.offer(), is_offer=True)
    assert [w.code for w in warnings] == ["srtp_without_tls"]
    assert "inline" not in repr(warnings)
    tls = _session(LegSettings("a", ("PCMA",), srtp=True), LegSettings("b", ("PCMA",)))
    assert tls.update("a", pa.offer(), is_offer=True) == []


def test_nat_latching_ACC_12() -> None:
    # The SDP says 10.0.0.5 (private); packets really come from 198.51.100.7:40000.
    pa = SimPhone("10.0.0.5", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",))
    s = _call(LegSettings("a", ("PCMA",), nat=True), LegSettings("b", ("PCMA",)), pa, pb)
    # Before A's first packet, B's audio has nowhere to go (the SDP address is ignored).
    early = _pump(s, 30102, pb.packets(tone(500, 0.1, 8000)), pb.address)
    assert early == []
    public = ("198.51.100.7", 40000)
    _pump(s, 30100, pa.packets(tone(1000, 0.1, 8000)), public)
    spoofed = _pump(s, 30100, pa.packets(tone(1000, 0.1, 8000), first_seq=2000), ("203.0.113.9", 1))
    assert spoofed == []
    assert s.bridges["audio"].endpoints["a"].counters.dropped_foreign == 5
    back = _pump(s, 30102, pb.packets(tone(500, 0.1, 8000), first_seq=50), pb.address)
    assert back and {d.address for d in back} == {public}


def test_telephone_events_relayed_and_retimed_RFC_4733() -> None:
    # Relay: PCMA both sides, event passes with B's PT.
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",))
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA",)), pa, pb)
    assert pa.te_pt is not None
    dtmf = [
        telephone_event(pa.te_pt, 10 + i, 800, pa.ssrc, 5, 160 * (i + 1), i >= 3, i == 0)
        for i in range(6)
    ]
    out = _to(_pump(s, 30100, dtmf, pa.address), pb)
    events = [RtpPacket.parse(d) for d in out]
    assert {e.payload_type for e in events} == {pb.te_pt}
    assert TelephoneEvent.parse(events[-1].payload).end
    # Transcoding PCMU (8 kHz clock) -> OPUS (48 kHz clock): durations scaled by 6.
    pa = SimPhone("192.0.2.1", 4000, ("PCMU",))
    pb = SimPhone("192.0.2.2", 5000, ("OPUS",))
    s = _call(LegSettings("a", ("PCMU",)), LegSettings("b", ("OPUS",)), pa, pb)
    audio = pa.packets(tone(1000, 0.1, 8000))
    assert pa.te_pt is not None and pb.te_pt is not None
    dtmf = [
        telephone_event(pa.te_pt, 1005 + i, 800, pa.ssrc, 11, 160 * (i + 1), i >= 3, i == 0)
        for i in range(5)
    ]
    out = _to(_pump(s, 30100, [*audio, *dtmf], pa.address), pb)
    events = [RtpPacket.parse(d) for d in out if RtpPacket.parse(d).payload_type == pb.te_pt]
    assert len(events) == 5 and events[0].marker and not events[1].marker
    assert len({e.timestamp for e in events}) == 1  # one event, one timestamp
    parsed = [TelephoneEvent.parse(e.payload) for e in events]
    assert [p.duration for p in parsed] == [960, 1920, 2880, 3840, 4800]
    assert parsed[0].event == 11 and parsed[-1].end


def test_reinvite_new_ssrc_keeps_relay_output_continuous() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",))
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA",)), pa, pb)
    first = _pump(s, 30100, pa.packets(tone(1000, 0.1, 8000)), pa.address)
    pa.ssrc = 0x55667788
    later = [
        d
        for i, p in enumerate(pa.packets(tone(1000, 0.1, 8000), first_seq=7, first_ts=99))
        for d in s.receive(30100, p, pa.address, 101.0 + 0.02 * i)
    ]
    packets = [RtpPacket.parse(d.data) for d in first + later]
    seqs = [p.sequence_number for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    assert len({p.ssrc for p in packets}) == 1
    assert packets[5].marker and not packets[6].marker


def test_garbage_is_counted_not_crashing() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("OPUS",))
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("OPUS",)), pa, pb)
    rnd = random.Random(3)
    for n in range(300):
        data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80)))
        if n % 2:
            data = b"\x80" + data  # looks like RTP, payload type random
        s.receive(30100, data, pa.address, 100.0)
        s.receive(30101, data, pa.address, 100.0)
    c = s.bridges["audio"].endpoints["a"].counters
    assert c.dropped_malformed + c.dropped_unknown_pt > 250


def test_oversized_packet_toward_srtp_leg_is_dropped_not_fatal() -> None:
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",), srtp=True)
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA",), srtp=True), pa, pb)
    assert pa.payload_type is not None
    huge = RtpPacket(pa.payload_type, 1, 0, pa.ssrc, b"\xd5" * 8000).serialize()
    assert s.receive(30100, huge, pa.address, 100.0) == []
    assert s.bridges["audio"].endpoints["b"].counters.dropped_malformed == 1
    normal = pa.packets(tone(1000, 0.04, 8000), first_seq=2)
    assert len(_pump(s, 30100, normal, pa.address)) == 2


def test_comfort_noise_ends_a_talk_spurt_when_transcoding() -> None:
    """RFC 3389 CN from A (PCMU) while B is Opus: output skips the silence, marks the restart."""
    pa = SimPhone("192.0.2.1", 4000, ("PCMU",), comfort_noise=True)
    pb = SimPhone("192.0.2.2", 5000, ("OPUS",))
    s = _call(LegSettings("a", ("PCMU",)), LegSettings("b", ("OPUS",)), pa, pb)
    assert streams(s.local_sdp("a"))[0].comfort_noise_pt == 13  # answered because offered
    first = pa.packets(tone(1000, 0.1, 8000), first_seq=1, first_ts=0)
    cn = RtpPacket(13, 6, 800, pa.ssrc, b"\x40").serialize()
    # One second of silence later, speech resumes.
    later = pa.packets(tone(1000, 0.1, 8000), first_seq=7, first_ts=8800)
    out = _to(_pump(s, 30100, [*first, cn, *later], pa.address), pb)
    packets = [RtpPacket.parse(d) for d in out]
    assert s.bridges["audio"].endpoints["a"].counters.comfort_noise == 1
    assert len(packets) == 10
    assert packets[0].marker and packets[5].marker
    assert not any(p.marker for p in packets[1:5] + packets[6:])
    gap = (packets[5].timestamp - packets[4].timestamp) & 0xFFFFFFFF
    assert gap == 48000 + 960  # one second of silence plus one 20 ms frame, at 48 kHz


def test_srtp_answer_choosing_our_second_suite() -> None:
    """B's answer picks AES_CM_128_HMAC_SHA1_32 (our tag 2): both directions still work."""
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA",), srtp=True)
    pb.keys = (CryptoAttribute.generate(1, "AES_CM_128_HMAC_SHA1_32"),)
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA",), srtp=True), pa, pb)
    assert pb.context is not None and pb.context.suite == "AES_CM_128_HMAC_SHA1_32"
    out = _to(_pump(s, 30100, pa.packets(tone(1000, 0.2, 8000)), pa.address), pb)
    pcm, packets = pb.decode(out)
    assert len(packets) == 10 and abs(peak_frequency(pcm, 8000) - 1000) < 50
    assert len(out[0]) == 12 + 160 + 4  # 32-bit tag
    back = _pump(s, 30102, pb.packets(tone(500, 0.2, 8000)), pb.address)
    assert len(back) == 10


def test_leg_stream_continues_when_reinvite_switches_relay_to_transcode() -> None:
    """B re-negotiates from PCMA to Opus mid-call: A's leg keeps one stream (RFC 3550 §5.1)."""
    pa = SimPhone("192.0.2.1", 4000, ("PCMA",))
    pb = SimPhone("192.0.2.2", 5000, ("PCMA", "OPUS"))
    s = _call(LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA", "OPUS")), pa, pb)
    assert not s.transcoding
    before = _to(_pump(s, 30102, pb.packets(tone(500, 0.1, 8000)), pb.address), pa)
    # B's re-INVITE now prefers Opus.
    pb2 = SimPhone("192.0.2.2", 5000, ("OPUS",))
    offer = pb2.offer()
    s.update("b", offer, is_offer=True)
    pb2.learn(offer, s.local_sdp("b").serialize(), offerer=True)
    assert s.transcoding
    after = [
        d.data
        for i, p in enumerate(pb2.packets(tone(500, 0.1, 48000)))
        for d in s.receive(30102, p, pb2.address, 101.0 + 0.02 * i)
        if d.address == pa.address
    ]
    packets = [RtpPacket.parse(d) for d in before + after]
    assert len({p.ssrc for p in packets}) == 1
    seqs = [p.sequence_number for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    # Time moved on by the ~0.92 s between the last relayed and first transcoded packet.
    jump = (packets[5].timestamp - packets[4].timestamp) & 0xFFFFFFFF
    assert 7000 < jump < 8000 and packets[5].marker

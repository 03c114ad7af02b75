"""Video passthrough with RTCP feedback (FEAT-04) and the T.38 switch (FEAT-05), sans-IO."""

from __future__ import annotations

import random
import struct

from centralino.rtp import (
    PictureLossIndication,
    RtcpOther,
    RtpPacket,
    parse_compound,
    serialize_compound,
)
from centralino.sdp import LocalMedia, SessionDescription, build_answer, streams
from centralino_media.relay import LegPorts, LegSettings, MediaSession
from centralino_media.simphone import SimPhone, tone

A = LegPorts(audio=(30300, 30301), video=(30302, 30303))
B = LegPorts(audio=(30304, 30305), video=(30306, 30307))
PHONE_A = "192.0.2.1"
PHONE_B = "192.0.2.2"

OFFER_A = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    b"m=video 4002 RTP/AVP 100 101\r\na=rtpmap:100 H264/90000\r\n"
    b"a=fmtp:100 profile-level-id=42e01f;packetization-mode=1\r\na=rtpmap:101 VP8/90000\r\n"
    b"a=rtcp-fb:* nack\r\na=rtcp-fb:* nack pli\r\n"
)


def _session(video_a: tuple[str, ...], video_b: tuple[str, ...]) -> MediaSession:
    return MediaSession(
        "v1",
        "127.0.0.1",
        [LegSettings("a", ("PCMA",), video_a), LegSettings("b", ("PCMA",), video_b)],
        {"a": A, "b": B},
        rng=random.Random(11),
    )


def _answer_b(session: MediaSession, video: tuple[str, ...]) -> bytes:
    offer = session.local_sdp("b")
    media = [LocalMedia("audio", 5000, ("PCMA",))]
    if video:
        media.append(LocalMedia("video", 5002, video))
    return build_answer(offer, PHONE_B, media, session_id=3).serialize()


def test_video_relayed_untouched_with_feedback_translated_FEAT_04() -> None:
    s = _session(("VP8", "H264"), ("H264",))
    s.update("a", OFFER_A, is_offer=True)
    answer_a = streams(s.local_sdp("a"))
    # Only the codec both legs share is accepted toward A, with A's payload type.
    assert [(f.codec, f.payload_type) for f in answer_a[1].formats] == [("H264", 100)]
    offer_b = streams(s.local_sdp("b"))
    assert [f.codec for f in offer_b[1].formats] == ["H264"]
    s.update("b", _answer_b(s, ("H264",)), is_offer=False)
    video = s.bridges["video"]
    assert video.mode == "relay"

    extension = b"\x10\x20\x30\x40"
    frames = [
        RtpPacket(100, 500 + i, 90000 + 3000 * i, 0xA1A1A1A1, bytes([i]) * 900, marker=i % 3 == 2,
                  extension_profile=0xBEDE, extension=extension).serialize()
        for i in range(6)
    ]  # fmt: skip
    out = [d for i, f in enumerate(frames) for d in s.receive(30302, f, (PHONE_A, 4002), 1 + i)]
    assert {d.address for d in out} == {(PHONE_B, 5002)}
    relayed = [RtpPacket.parse(d.data) for d in out]
    pt_b = offer_b[1].formats[0].payload_type
    assert {p.payload_type for p in relayed} == {pt_b}
    assert [p.payload for p in relayed] == [RtpPacket.parse(f).payload for f in frames]
    assert all(p.extension == extension for p in relayed)
    assert [p.marker for p in relayed] == [True, False, True, False, False, True]

    # B asks for a key frame and a retransmission; A must get them about its own stream.
    ours_to_b = video.endpoints["b"].ssrc
    b_ssrc = 0xB2B2B2B2
    s.receive(30306, RtpPacket(pt_b, 1, 0, b_ssrc, b"x").serialize(), (PHONE_B, 5002), 2.0)
    nack_fci = struct.pack("!HH", relayed[2].sequence_number, 0)
    feedback = serialize_compound(
        [
            PictureLossIndication(b_ssrc, ours_to_b),
            RtcpOther(205, 1, struct.pack("!II", b_ssrc, ours_to_b) + nack_fci),
        ]
    )
    back = s.receive(30307, feedback, (PHONE_B, 5003), 2.1)
    assert [d.address for d in back] == [(PHONE_A, 4003)]
    packets = parse_compound(back[0].data)
    ours_to_a = video.endpoints["a"].ssrc
    pli = next(p for p in packets if isinstance(p, PictureLossIndication))
    assert (pli.sender_ssrc, pli.media_ssrc) == (ours_to_a, 0xA1A1A1A1)
    nack = next(p for p in packets if isinstance(p, RtcpOther) and p.packet_type == 205)
    assert struct.unpack("!IIHH", nack.body) == (ours_to_a, 0xA1A1A1A1, 502, 0)


def test_no_common_video_codec_rejects_video_audio_continues_FEAT_04() -> None:
    s = _session(("VP8",), ("H264",))
    s.update("a", OFFER_A, is_offer=True)
    audio, video = SessionDescription.parse(s.local_sdp("a").serialize()).media
    assert video.port == 0 and audio.port == 30300
    assert [m.media for m in s.local_sdp("b").media] == ["audio"]
    s.update("b", _answer_b(s, ()), is_offer=False)
    pa = SimPhone(PHONE_A, 4000, ("PCMA",))
    pa.learn(OFFER_A, s.local_sdp("a").serialize(), offerer=True)
    out = [s.receive(30300, p, pa.address, 1.0) for p in pa.packets(tone(1000, 0.1, 8000))]
    assert all(d[0].address == (PHONE_B, 5000) for d in out)


def test_t38_reinvite_switches_to_udptl_passthrough_FEAT_05() -> None:
    s = _session((), ())
    pa = SimPhone(PHONE_A, 4000, ("PCMA",))
    pb = SimPhone(PHONE_B, 5000, ("PCMA",))
    offer_a = pa.offer()
    s.update("a", offer_a, is_offer=True)
    s.update("b", pb.answer(s.local_sdp("b").serialize()), is_offer=False)
    assert s.bridges["audio"].mode == "relay" and not s.fax

    t38 = (
        b"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=image 4010 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n"
        b"a=T38FaxRateManagement:transferredTCF\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"
    )
    s.update("a", t38, is_offer=True)
    answer_a = s.local_sdp("a")
    assert [(m.media, m.port, m.proto) for m in answer_a.media] == [("image", 30300, "udptl")]
    offer_b = s.local_sdp("b")  # a fresh T.38 offer for the other leg
    assert [m.media for m in offer_b.media] == ["image"]
    answer_b = build_answer(offer_b, PHONE_B, [LocalMedia("image", 5010)], session_id=9)
    s.update("b", answer_b.serialize(), is_offer=False)
    assert s.fax and s.bridges["audio"].mode == "udptl"
    ifp = b"\x00\x01\x02\x03 not RTP at all"
    out = s.receive(30300, ifp, (PHONE_A, 4010), 5.0)
    assert [(d.address, d.data, d.local_port) for d in out] == [((PHONE_B, 5010), ifp, 30304)]
    back = s.receive(30304, b"\x07\x08", (PHONE_B, 5010), 5.1)
    assert [(d.address, d.data) for d in back] == [((PHONE_A, 4010), b"\x07\x08")]

"""Offer/answer (RFC 3264) for accounts: ACC-22/23 codec lists, FEAT-04 video, FEAT-05 T.38."""

from __future__ import annotations

from pathlib import Path

import pytest

from centralino.sdp import (
    CryptoAttribute,
    LocalMedia,
    SdpNegotiationError,
    SdpUsageError,
    SessionDescription,
    build_answer,
    build_offer,
    first_stream,
    intersect,
    rtpmaps,
    streams,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> SessionDescription:
    return SessionDescription.parse((FIXTURES / name).read_bytes())


def _names(sdp: SessionDescription, index: int = 0) -> list[str]:
    return [f.codec for f in streams(sdp)[index].formats]


@pytest.mark.parametrize(
    "codecs",
    [
        ("PCMA", "G722", "G726", "G729", "GSM", "OPUS", "PCMU"),
        ("OPUS", "PCMU"),
        ("G729",),
        ("PCMU", "PCMA"),
    ],
)
def test_offer_lists_exactly_the_account_codecs_in_order_ACC_22(codecs: tuple[str, ...]) -> None:
    sdp = build_offer("192.0.2.1", [LocalMedia("audio", 4000, codecs)], session_id=7)
    reparsed = SessionDescription.parse(sdp.serialize())
    assert _names(reparsed) == list(codecs)
    m = reparsed.media[0]
    encodings = [rtpmaps(m)[int(pt)].encoding for pt in m.formats]
    assert [e for e in encodings if e != "telephone-event"] == [
        {"OPUS": "opus", "G726": "G726-32"}.get(c, c) for c in codecs
    ]
    assert len(set(m.formats)) == len(m.formats)


def test_video_offer_order_ACC_23() -> None:
    video = ("VP8", "H264", "H263P", "H263", "H261")
    sdp = build_offer(
        "192.0.2.1",
        [LocalMedia("audio", 4000, ("PCMA",)), LocalMedia("video", 4002, video)],
        session_id=1,
    )
    assert _names(SessionDescription.parse(sdp.serialize()), 1) == list(video)
    assert sdp.media[1].attribute_values("rtcp-fb") == ["* nack", "* nack pli", "* ccm fir"]


def test_opus_offer_gets_48k_telephone_event() -> None:
    sdp = build_offer("192.0.2.1", [LocalMedia("audio", 4000, ("OPUS", "PCMA"))], session_id=1)
    assert streams(sdp)[0].telephone_events == {110: 48000, 101: 8000}


def test_unknown_codec_name_is_a_usage_error() -> None:
    with pytest.raises(SdpUsageError, match="unknown codec"):
        LocalMedia("audio", 4000, ("AMR",))
    with pytest.raises(SdpUsageError, match="not audio"):
        LocalMedia("audio", 4000, ("VP8",))


def test_intersect_orders() -> None:
    assert intersect(["PCMU", "G722", "PCMA"], ["PCMA", "PCMU"]) == ["PCMA", "PCMU"]
    assert intersect(["PCMU", "G722", "PCMA"], ["PCMA", "PCMU"], prefer="offer") == [
        "PCMU",
        "PCMA",
    ]
    assert intersect(["OPUS"], ["PCMA"]) == []


def test_answer_to_baresip_keeps_local_order_and_offerer_dtmf() -> None:
    offer = _load("baresip_offer.sdp")
    answer = build_answer(
        offer, "203.0.113.1", [LocalMedia("audio", 30000, ("PCMA", "PCMU"))], session_id=9
    )
    s = streams(answer)[0]
    assert [f.codec for f in s.formats] == ["PCMA", "PCMU"]
    assert s.telephone_events == {101: 8000}
    assert s.port == 30000 and s.address == "203.0.113.1"
    assert s.direction == "sendrecv"


def test_answer_no_common_codec_is_488() -> None:
    offer = _load("baresip_offer.sdp")
    with pytest.raises(SdpNegotiationError) as info:
        build_answer(offer, "203.0.113.1", [LocalMedia("audio", 1, ("GSM",))], session_id=1)
    assert info.value.status_hint == 488


def test_video_without_common_codec_rejected_audio_continues_FEAT_04() -> None:
    offer = _load("linphone_srtp_video_offer.sdp")
    keys = (
        CryptoAttribute.generate(1, "AES_CM_128_HMAC_SHA1_80"),
        CryptoAttribute.generate(1, "AES_CM_128_HMAC_SHA1_32"),
    )
    answer = build_answer(
        offer,
        "203.0.113.1",
        [
            LocalMedia("audio", 30000, ("G729", "OPUS"), crypto=keys),
            LocalMedia("video", 30002, ("H261",)),
        ],
        session_id=1,
    )
    audio, video = streams(SessionDescription.parse(answer.serialize()))
    assert audio.accepted and [f.codec for f in audio.formats] == ["G729", "OPUS"]
    # The offerer's payload type numbers and fmtp are kept (RFC 3264 §6.1).
    assert [f.payload_type for f in audio.formats] == [18, 96]
    assert audio.formats[0].fmtp == "annexb=yes"
    assert audio.proto == "RTP/SAVP"
    # Tag 1 carries an MKI, which we do not use, so the answer takes tag 2 (RFC 4568 §7.1.2).
    (crypto,) = audio.crypto
    assert (crypto.tag, crypto.suite) == (2, "AES_CM_128_HMAC_SHA1_32")
    assert crypto.key_salt == keys[1].key_salt
    assert not video.accepted and answer.media[1].port == 0


def test_video_with_common_codec_is_accepted_with_feedback_FEAT_04() -> None:
    offer = _load("linphone_srtp_video_offer.sdp")
    keys = (CryptoAttribute.generate(5, "AES_CM_128_HMAC_SHA1_32"),)
    answer = build_answer(
        offer,
        "203.0.113.1",
        [
            LocalMedia("audio", 30000, ("OPUS",), crypto=keys),
            LocalMedia("video", 30002, ("H264", "VP8")),
        ],
        session_id=1,
    )
    video = streams(answer)[1]
    assert [(f.codec, f.payload_type) for f in video.formats] == [("H264", 97), ("VP8", 96)]
    assert video.formats[0].fmtp == "profile-level-id=42801F"
    assert streams(answer)[0].crypto[0].tag == 2  # the offer's tag for the _32 suite


def test_savp_offer_without_local_keys_rejects_the_stream() -> None:
    offer = _load("linphone_srtp_video_offer.sdp")
    answer = build_answer(
        offer,
        "203.0.113.1",
        [LocalMedia("audio", 30000, ("PCMA",)), LocalMedia("video", 30002, ("VP8",))],
        session_id=1,
    )
    assert answer.media[0].port == 0 and answer.media[1].port == 30002


def test_hold_offer_answered_recvonly() -> None:
    offer = _load("hold_offer.sdp")
    s = streams(offer)[0]
    assert s.on_hold and s.direction == "sendonly"
    answer = build_answer(offer, "203.0.113.1", [LocalMedia("audio", 1, ("PCMA",))], session_id=1)
    assert streams(answer)[0].direction == "recvonly"


def test_t38_reinvite_passthrough_FEAT_05() -> None:
    offer = _load("t38_reinvite.sdp")
    answer = build_answer(
        offer,
        "203.0.113.1",
        [LocalMedia("image", 30010), LocalMedia("audio", 30000, ("PCMA",))],
        session_id=1,
    )
    image = first_stream(answer, "image")
    assert image is not None and image.port == 30010
    assert answer.media[0].proto == "udptl" and answer.media[0].formats == ("t38",)
    assert answer.media[0].attribute_values("T38MaxBitRate") == ["14400"]
    assert answer.media[0].attribute_values("T38FaxMaxDatagram") == ["176"]


def test_rtcp_mux_answered_only_when_offered() -> None:
    plain = _load("baresip_offer.sdp")
    muxed = SessionDescription.parse(plain.to_text().replace("a=sendrecv", "a=rtcp-mux"))
    local = [LocalMedia("audio", 30000, ("PCMU",), rtcp_mux=True)]
    assert not streams(build_answer(plain, "203.0.113.1", local, session_id=1))[0].rtcp_mux
    assert streams(build_answer(muxed, "203.0.113.1", local, session_id=1))[0].rtcp_mux


def test_static_payload_types_without_rtpmap_are_identified() -> None:
    sdp = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 18 3 9 13 96\r\n"
    )
    s = streams(sdp)[0]
    assert [f.codec for f in s.formats] == ["G729", "GSM", "G722"]
    assert s.comfort_noise_pt == 13
    assert s.rtcp_port == 4001


def test_comfort_noise_only_when_asked() -> None:
    plain = build_offer("192.0.2.1", [LocalMedia("audio", 4000, ("PCMU",))], session_id=1)
    assert "13" not in plain.media[0].formats  # ACC-22: exactly the selected codecs
    cn = build_offer(
        "192.0.2.1", [LocalMedia("audio", 4000, ("PCMU",), comfort_noise=True)], session_id=1
    )
    assert streams(cn)[0].comfort_noise_pt == 13
    answer = build_answer(
        cn, "192.0.2.9", [LocalMedia("audio", 1, ("PCMU",), comfort_noise=True)], session_id=2
    )
    assert streams(answer)[0].comfort_noise_pt == 13
    refused = build_answer(cn, "192.0.2.9", [LocalMedia("audio", 1, ("PCMU",))], session_id=2)
    assert streams(refused)[0].comfort_noise_pt is None

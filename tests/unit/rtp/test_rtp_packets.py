"""RTP/RTCP packet parse/serialise round trips and rejection of garbage (RFC 3550, 4585, 5104)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralino.rtp import (
    Bye,
    FullIntraRequest,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    RtcpOther,
    RtpError,
    RtpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TelephoneEvent,
    is_rtcp,
    parse_compound,
    serialize_compound,
)

# A G.711 packet as captured from baresip (header + 4 payload bytes).
CAPTURED_RTP = bytes.fromhex("80080001000000a0deadbeef") + b"\xd5\xd5\xd4\xd4"


def test_parse_captured_rtp() -> None:
    p = RtpPacket.parse(CAPTURED_RTP)
    assert (p.payload_type, p.sequence_number, p.timestamp, p.ssrc) == (8, 1, 160, 0xDEADBEEF)
    assert p.payload == b"\xd5\xd5\xd4\xd4" and not p.marker
    assert p.serialize() == CAPTURED_RTP


def test_round_trip_with_csrc_extension_padding() -> None:
    p = RtpPacket(
        payload_type=96,
        sequence_number=65535,
        timestamp=0xFFFFFFFF,
        ssrc=1,
        payload=b"x" * 7,
        marker=True,
        csrc=(2, 3),
        extension_profile=0xBEDE,
        extension=b"\x10\xff\x00\x00",
        padding_size=4,
    )
    data = p.serialize()
    assert RtpPacket.parse(data) == p
    assert not is_rtcp(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x08", "shorter than its header"),
        (b"\x40" + bytes(11), "version 1"),
        (b"\x82" + bytes(11) + b"\x00\x00\x00\x01", "CSRC"),
        (b"\x90" + bytes(11) + b"\x00\x00\x00\x05", "extension longer"),
        (b"\xa0" + bytes(11) + b"\x00\x00\x00\x00", "padding"),
    ],
)
def test_bad_rtp(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_rtcp_compound_round_trip() -> None:
    block = ReportBlock(0x1234, 64, -3, 70000, 120, 0xAABBCCDD, 655)
    packets = [
        SenderReport(1, 0x1122334455667788, 160, 10, 1600, (block,)),
        ReceiverReport(2, (block, block)),
        SourceDescription((SdesChunk(1, ((1, b"centralino@media"),)), SdesChunk(2, ()))),
        Bye((1, 2), b"call ended"),
        PictureLossIndication(5, 6),
        FullIntraRequest(5, ((6, 9), (7, 10))),
        RtcpOther(205, 1, b"\x00\x00\x00\x05\x00\x00\x00\x06\x00\x01\x00\x00"),
    ]
    data = serialize_compound(packets)
    assert is_rtcp(data)
    parsed = parse_compound(data)
    assert parsed == packets
    assert serialize_compound(parsed) == data
    assert parsed[1].reports[0].packets_lost == -3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\xc8", "shorter"),
        (b"\x80\xc8\x00\x09" + bytes(8), "longer than the datagram"),
        (b"\x40\xc9\x00\x00", "version 1"),
        (b"\x81\xc9\x00\x01" + bytes(4), "report blocks truncated"),
        (b"\x81\xca\x00\x01" + b"\x00\x00\x00\x01", "without its end item"),
        (b"\x80\xc9\x00\x01" + bytes(4) + b"\x80", "trailing bytes"),
    ],
)
def test_bad_rtcp(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        parse_compound(data)


def test_telephone_event_round_trip_and_rescale() -> None:
    ev = TelephoneEvent(event=11, end=True, volume=10, duration=800)
    assert TelephoneEvent.parse(ev.serialize()) == ev
    assert ev.rescaled(8000, 48000).duration == 4800
    with pytest.raises(RtpError):
        TelephoneEvent.parse(b"\x01")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parsers_raise_only_rtp_error(data: bytes) -> None:
    for parse in (RtpPacket.parse, parse_compound):
        with contextlib.suppress(RtpError):
            parse(data)

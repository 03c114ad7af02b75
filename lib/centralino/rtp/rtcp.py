"""RTCP packets (RFC 3550 §6, RFC 4585 §6, RFC 5104 §4.3.1) and compound packets.

Typed classes for SR, RR, SDES, BYE, PLI and FIR; any other packet type (APP, XR, generic
NACK...) is kept as :class:`RtcpOther` so a relay can forward a compound packet unchanged.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from centralino.rtp.packet import RTP_VERSION, RtpError

SR, RR, SDES, BYE, APP, RTPFB, PSFB = 200, 201, 202, 203, 204, 205, 206
PLI_FMT, FIR_FMT = 1, 4
SDES_CNAME = 1


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """RFC 3550 §6.4.1 reception report block (24 bytes)."""

    ssrc: int
    fraction_lost: int  # 0..255, loss since the last report in 1/256
    packets_lost: int  # cumulative, signed 24-bit
    highest_sequence: int  # extended
    jitter: int  # in timestamp units
    last_sr: int = 0
    delay_since_last_sr: int = 0

    def serialize(self) -> bytes:
        lost = self.packets_lost & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost << 24) | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.last_sr & 0xFFFFFFFF,
            self.delay_since_last_sr & 0xFFFFFFFF,
        )

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, loss, high, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, offset)
        lost = loss & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, loss >> 24, lost, high, jitter, lsr, dlsr)


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int  # 64-bit NTP
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        body = struct.pack(
            "!IQIII",
            self.ssrc,
            self.ntp_timestamp,
            self.rtp_timestamp & 0xFFFFFFFF,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        )
        body += b"".join(r.serialize() for r in self.reports)
        return _header(len(self.reports), SR, body)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def serialize(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(r.serialize() for r in self.reports)
        return _header(len(self.reports), RR, body)


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[tuple[int, bytes], ...]  # (item type, value)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    chunks: tuple[SdesChunk, ...]

    def serialize(self) -> bytes:
        body = b""
        for chunk in self.chunks:
            data = struct.pack("!I", chunk.ssrc)
            for kind, value in chunk.items:
                if len(value) > 255:
                    raise RtpError("SDES item longer than 255 bytes")
                data += bytes([kind, len(value)]) + value
            # RFC 3550 §6.5: a null item ends the list, then pad to a 32-bit boundary.
            data += b"\x00" * (4 - len(data) % 4)
            body += data
        return _header(len(self.chunks), SDES, body)


@dataclass(frozen=True, slots=True)
class Bye:
    sources: tuple[int, ...]
    reason: bytes = b""

    def serialize(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.sources)
        if self.reason:
            reason = bytes([len(self.reason)]) + self.reason
            body += reason + b"\x00" * (-len(reason) % 4)
        return _header(len(self.sources), BYE, body)


@dataclass(frozen=True, slots=True)
class PictureLossIndication:
    """RFC 4585 §6.3.1."""

    sender_ssrc: int
    media_ssrc: int

    def serialize(self) -> bytes:
        return _header(PLI_FMT, PSFB, struct.pack("!II", self.sender_ssrc, self.media_ssrc))


@dataclass(frozen=True, slots=True)
class FullIntraRequest:
    """RFC 5104 §4.3.1: one FCI entry (SSRC, sequence number) per requested source."""

    sender_ssrc: int
    entries: tuple[tuple[int, int], ...]

    def serialize(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, 0)
        body += b"".join(struct.pack("!IB3x", ssrc, seq) for ssrc, seq in self.entries)
        return _header(FIR_FMT, PSFB, body)


@dataclass(frozen=True, slots=True)
class RtcpOther:
    """A packet we forward without interpreting (APP, XR, RTPFB NACK, other PSFB)."""

    packet_type: int
    count: int
    body: bytes

    def serialize(self) -> bytes:
        return _header(self.count, self.packet_type, self.body)


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Bye
    | PictureLossIndication
    | FullIntraRequest
    | RtcpOther
)


def _header(count: int, packet_type: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtpError("RTCP body must be a multiple of 4 bytes")
    return struct.pack("!BBH", (RTP_VERSION << 6) | count, packet_type, len(body) // 4) + body


def serialize_compound(packets: list[RtcpPacket]) -> bytes:
    return b"".join(p.serialize() for p in packets)


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Split a compound RTCP packet; raise :class:`RtpError` on any malformed part."""
    out: list[RtcpPacket] = []
    offset = 0
    if len(data) < 4:
        raise RtpError(f"RTCP packet of {len(data)} bytes is shorter than its header")
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtpError("trailing bytes after the last RTCP packet")
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTCP version {first >> 6}, expected 2")
        end = offset + 4 + 4 * words
        if end > len(data):
            raise RtpError(f"RTCP packet type {packet_type} longer than the datagram")
        body = data[offset + 4 : end]
        if first & 0x20:
            # RFC 3550 §6.4.1: padding only on the last packet of a compound.
            if end != len(data) or not body or body[-1] == 0 or body[-1] > len(body):
                raise RtpError("bad RTCP padding")
            body = body[: -body[-1]]
        out.append(_parse_one(first & 0x1F, packet_type, bytes(body)))
        offset = end
    return out


def _parse_reports(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    if len(body) < offset + 24 * count:
        raise RtpError("RTCP report blocks truncated")
    return tuple(ReportBlock.parse(body, offset + 24 * i) for i in range(count))


def _parse_one(count: int, packet_type: int, body: bytes) -> RtcpPacket:
    if packet_type == SR:
        if len(body) < 24:
            raise RtpError("RTCP SR truncated")
        ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", body)
        return SenderReport(ssrc, ntp, rtp_ts, packets, octets, _parse_reports(body, 24, count))
    if packet_type == RR:
        if len(body) < 4:
            raise RtpError("RTCP RR truncated")
        return ReceiverReport(struct.unpack_from("!I", body)[0], _parse_reports(body, 4, count))
    if packet_type == SDES:
        return _parse_sdes(count, body)
    if packet_type == BYE:
        if len(body) < 4 * count:
            raise RtpError("RTCP BYE truncated")
        sources = struct.unpack_from(f"!{count}I", body)
        reason = b""
        if len(body) > 4 * count:
            length = body[4 * count]
            reason = body[4 * count + 1 : 4 * count + 1 + length]
            if len(reason) != length:
                raise RtpError("RTCP BYE reason truncated")
        return Bye(tuple(sources), reason)
    if packet_type == PSFB and count == PLI_FMT:
        if len(body) < 8:
            raise RtpError("RTCP PLI truncated")
        return PictureLossIndication(*struct.unpack_from("!II", body))
    if packet_type == PSFB and count == FIR_FMT:
        if len(body) < 8 or (len(body) - 8) % 8:
            raise RtpError("RTCP FIR has a partial entry")
        entries = tuple(
            struct.unpack_from("!IB", body, offset) for offset in range(8, len(body), 8)
        )
        return FullIntraRequest(struct.unpack_from("!I", body)[0], entries)
    return RtcpOther(packet_type, count, body)


def _parse_sdes(count: int, body: bytes) -> SourceDescription:
    chunks: list[SdesChunk] = []
    offset = 0
    for _ in range(count):
        if len(body) < offset + 4:
            raise RtpError("RTCP SDES chunk truncated")
        ssrc = struct.unpack_from("!I", body, offset)[0]
        offset += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if offset >= len(body):
                raise RtpError("RTCP SDES chunk without its end item")
            kind = body[offset]
            if kind == 0:
                offset += 4 - offset % 4  # skip the null item and its padding
                break
            if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                raise RtpError("RTCP SDES item truncated")
            length = body[offset + 1]
            items.append((kind, body[offset + 2 : offset + 2 + length]))
            offset += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))

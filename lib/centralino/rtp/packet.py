"""RTP packets (RFC 3550 §5.1) as a small typed class, and RTP/RTCP demultiplexing.

Parsing is strict about what would make forwarding wrong (version, lengths, padding) and
lenient about the rest: header extensions and CSRCs are kept as they are so a relay can
forward what it does not understand.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_SIZE = 12
_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a valid RTP/RTCP packet (the sender's fault)."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding_size: int = 0

    def serialize(self) -> bytes:
        first = (RTP_VERSION << 6) | len(self.csrc)
        if self.padding_size:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [
            _HEADER.pack(
                first,
                second,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        parts.extend(struct.pack("!I", c) for c in self.csrc)
        if self.extension_profile is not None:
            if len(self.extension) % 4:
                raise RtpError("header extension length must be a multiple of 4")
            parts.append(struct.pack("!HH", self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding_size:
            parts.append(b"\x00" * (self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < HEADER_SIZE:
            raise RtpError(f"RTP packet of {len(data)} bytes is shorter than its header")
        first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        offset = HEADER_SIZE
        cc = first & 0x0F
        if len(data) < offset + 4 * cc:
            raise RtpError("RTP packet truncated in its CSRC list")
        csrc = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
        offset += 4 * cc
        profile: int | None = None
        extension = b""
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpError("RTP packet truncated in its header extension")
            profile, words = struct.unpack_from("!HH", data, offset)
            offset += 4
            if len(data) < offset + 4 * words:
                raise RtpError("RTP header extension longer than the packet")
            extension = data[offset : offset + 4 * words]
            offset += 4 * words
        end = len(data)
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpError(f"bad RTP padding length {padding}")
            end -= padding
        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(second & 0x80),
            csrc=tuple(csrc),
            extension_profile=profile,
            extension=bytes(extension),
            padding_size=padding,
        )


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: on a muxed port, RTCP packet types 192-223 fall in PT range 64-95."""
    return len(data) >= 2 and 192 <= data[1] <= 223

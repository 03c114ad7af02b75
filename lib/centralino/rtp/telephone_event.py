"""RFC 4733 §2.3 telephone-event payload: event, end bit, volume, duration."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from centralino.rtp.packet import RtpError


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int  # 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash
    end: bool
    volume: int  # 0..63, in -dBm0
    duration: int  # in timestamp units

    def serialize(self) -> bytes:
        return struct.pack(
            "!BBH",
            self.event,
            (0x80 if self.end else 0) | (self.volume & 0x3F),
            min(self.duration, 0xFFFF),
        )

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        # RFC 4733 §2.5.1.5: several events may be stacked (redundancy); the first is current.
        if len(payload) < 4:
            raise RtpError(f"telephone-event payload of {len(payload)} bytes, need 4")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def rescaled(self, from_rate: int, to_rate: int) -> TelephoneEvent:
        """The same event for a stream with another clock rate (re-timing when transcoding)."""
        return TelephoneEvent(
            self.event, self.end, self.volume, self.duration * to_rate // from_rate
        )

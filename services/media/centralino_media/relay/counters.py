"""Per-leg packet counters, reported in MediaStats events and checked by tests."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class LegCounters:
    packets_in: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rtcp_in: int = 0
    rtcp_out: int = 0
    dropped_foreign: int = 0  # from a source other than the latched one (ACC-12)
    dropped_auth: int = 0  # SRTP authentication failed (tampered or wrong key)
    dropped_replay: int = 0  # SRTP replay protection
    dropped_malformed: int = 0  # not RTP/RTCP, or an undecodable payload
    dropped_unknown_pt: int = 0  # payload type not negotiated on this leg
    dropped_no_destination: int = 0  # the other leg has no address yet
    dropped_late: int = 0  # older than what was already transcoded
    telephone_events: int = 0
    comfort_noise: int = 0

    @property
    def dropped(self) -> int:
        return (
            self.dropped_foreign
            + self.dropped_auth
            + self.dropped_replay
            + self.dropped_malformed
            + self.dropped_unknown_pt
            + self.dropped_no_destination
            + self.dropped_late
        )

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

"""One leg of one media stream: its local ports, the device behind it, latching, counters."""

from __future__ import annotations

from centralino.rtp import ReceptionStats
from centralino_media.relay.counters import LegCounters
from centralino_media.relay.remote import Address, RemoteMedia
from centralino_media.srtp import SrtpContext


class Endpoint:
    """Where a leg's device is and what it has sent us.

    With ``nat`` (ACC-12) the SDP address is ignored: the first packet that authenticates
    fixes the device's address ("latching"), and packets from anywhere else are dropped.
    Without it we send to the SDP address and accept packets from any source.
    """

    __slots__ = (
        "counters",
        "in_ssrc",
        "last_rx",
        "latched_rtcp",
        "latched_rtp",
        "leg",
        "nat",
        "out_last_now",
        "out_last_seq",
        "out_last_ts",
        "out_octets",
        "out_packets",
        "remote",
        "remote_report",
        "rtcp_port",
        "rtp_port",
        "srtp",
        "ssrc",
        "stats",
    )

    def __init__(self, leg: str, rtp_port: int, rtcp_port: int, nat: bool, ssrc: int) -> None:
        self.leg = leg
        self.rtp_port = rtp_port
        self.rtcp_port = rtcp_port
        self.nat = nat
        self.ssrc = ssrc  # the SSRC we send with on this leg
        self.remote: RemoteMedia | None = None
        self.srtp: SrtpContext | None = None
        self.latched_rtp: Address | None = None
        self.latched_rtcp: Address | None = None
        self.counters = LegCounters()
        self.stats: ReceptionStats | None = None
        self.in_ssrc: int | None = None
        self.last_rx: float | None = None
        self.out_packets = 0
        self.out_octets = 0
        self.out_last_seq = 0
        self.out_last_ts = 0
        self.out_last_now: float | None = None
        # (fraction lost 0..1, jitter ms) as the device reported in its last RTCP RR/SR.
        self.remote_report: tuple[float, float] | None = None

    def update(self, remote: RemoteMedia, srtp: SrtpContext | None) -> None:
        """A new SDP from the device: relatch, since a re-INVITE may move it (RFC 3264 §8)."""
        self.remote = remote
        self.srtp = srtp
        self.latched_rtp = None
        self.latched_rtcp = None

    def accept_source(self, source: Address, rtcp: bool) -> bool:
        """Latch or check the source of an authentic packet; False means drop it."""
        if not self.nat:
            return True
        latched = self.latched_rtcp if rtcp else self.latched_rtp
        if latched is None:
            if rtcp:
                self.latched_rtcp = source
            else:
                self.latched_rtp = source
            return True
        if latched != source:
            self.counters.dropped_foreign += 1
            return False
        return True

    @property
    def rtp_destination(self) -> Address | None:
        if self.nat:
            return self.latched_rtp
        return self.remote.address if self.remote else None

    @property
    def rtcp_destination(self) -> Address | None:
        remote = self.remote
        if remote is None:
            return None
        if remote.rtcp_mux:
            return self.rtp_destination
        if self.nat:
            return self.latched_rtcp
        return remote.rtcp_address

    @property
    def muxed(self) -> bool:
        return self.remote is not None and self.remote.rtcp_mux

    def observe(self, ssrc: int, seq: int, ts: int, clock_rate: int, now: float) -> None:
        if ssrc != self.in_ssrc or self.stats is None or self.stats.clock_rate != clock_rate:
            self.in_ssrc = ssrc
            self.stats = ReceptionStats(clock_rate)
        self.stats.update(seq, ts, now)
        self.last_rx = now

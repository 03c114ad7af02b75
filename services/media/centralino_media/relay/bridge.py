"""One media stream (m-line) between two legs: relay, transcode or UDPTL passthrough.

Per packet: demultiplex RTP/RTCP (RFC 5761), SRTP-unprotect with the sending leg's key,
latch/check the source, account it, then hand it to the direction object that produces the
packet(s) for the other leg, which are SRTP-protected with that leg's key.

A direction relays when both legs use the same codec and ptime: payload untouched, payload
type mapped, SSRC/sequence/timestamp rewritten so each leg sees one continuous stream. It
transcodes otherwise (audio only). Video is only ever relayed (FEAT-04); T.38 UDPTL
datagrams are forwarded as they are (FEAT-05). We terminate RTCP SR/RR/SDES/BYE (each leg
gets our own reports), and forward RTCP feedback (PLI, FIR, NACK) with SSRCs and NACKed
sequence numbers translated to the other leg.
"""

from __future__ import annotations

import random
import struct
from typing import NamedTuple

from centralino.rtp import (
    FullIntraRequest,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    RtcpOther,
    RtcpPacket,
    RtpError,
    SdesChunk,
    SenderReport,
    SourceDescription,
    StreamGenerator,
    StreamRewriter,
    is_rtcp,
    parse_compound,
    serialize_compound,
)
from centralino.rtp.rtcp import RTPFB, SDES_CNAME
from centralino_media.relay.endpoint import Endpoint
from centralino_media.relay.remote import Address
from centralino_media.relay.transcoder import Transcoder
from centralino_media.srtp import SrtpError

_FIXED = struct.Struct("!BBHII")
_REWRITE = struct.Struct("!HII")
_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
#: RFC 3550 §6.2 suggests 5 s as the minimum interval between reports.
RTCP_INTERVAL = 5.0
CNAME = b"centralino-media"


class Datagram(NamedTuple):
    local_port: int
    address: Address
    data: bytes


class _Relay:
    """Same codec both sides: map the payload type, rewrite the header (RFC 3550 §7)."""

    __slots__ = ("pt_map", "rewriter")

    def __init__(self, pt_map: dict[int, int], rewriter: StreamRewriter) -> None:
        self.pt_map = pt_map
        self.rewriter = rewriter


class Bridge:
    """Both legs of one stream kind; the owner routes datagrams to it by local port."""

    def __init__(
        self,
        kind: str,
        a: Endpoint,
        b: Endpoint,
        rng: random.Random,
        wall_offset: float = 0.0,
    ) -> None:
        self.kind = kind
        self.endpoints = {a.leg: a, b.leg: b}
        self._peer = {a.leg: b, b.leg: a}
        self._ports: dict[int, tuple[Endpoint, bool]] = {
            a.rtp_port: (a, False),
            a.rtcp_port: (a, True),
            b.rtp_port: (b, False),
            b.rtcp_port: (b, True),
        }
        self._rng = rng
        self._wall_offset = wall_offset
        # Direction objects keyed by the *receiving* leg.
        self._directions: dict[str, _Relay | Transcoder | None] = {a.leg: None, b.leg: None}
        self._next_report: dict[str, float] = {}
        self.mode = "idle"

    @property
    def ports(self) -> list[int]:
        return list(self._ports)

    @property
    def transcoding(self) -> bool:
        return self.mode == "transcode"

    def close(self) -> None:
        for d in self._directions.values():
            if isinstance(d, Transcoder):
                d.close()

    # -- configuration -----------------------------------------------------------------------

    def configure(self) -> None:
        """Recompute how each direction forwards, after either leg's SDP changed."""
        self.close()
        a, b = self.endpoints.values()
        ra, rb = a.remote, b.remote
        if ra is None or rb is None:
            self.mode = "idle"
            self._directions = {a.leg: None, b.leg: None}
            return
        if ra.udptl or rb.udptl:
            self.mode = "udptl"
            self._directions = {a.leg: None, b.leg: None}
            return
        modes = []
        for src, dst in ((a, b), (b, a)):
            direction = self._direction(src, dst)
            self._directions[dst.leg] = direction
            modes.append(isinstance(direction, Transcoder))
        self.mode = "transcode" if any(modes) else "relay"

    def _direction(self, src: Endpoint, dst: Endpoint) -> _Relay | Transcoder | None:
        rs, rd = src.remote, dst.remote
        assert rs is not None and rd is not None
        if rd.send_pt is None or rd.codec is None:
            return None
        # A leg's outgoing stream stays one stream across renegotiation (re-INVITE, relay
        # <-> transcode): continue after the last packet sent rather than restart it.
        resume = dst.out_last_now
        if resume is None:
            initial_seq = self._rng.randrange(1 << 16)
            initial_ts = self._rng.randrange(1 << 32)
        else:
            initial_seq = (dst.out_last_seq + 1) & 0xFFFF
            initial_ts = dst.out_last_ts
        if self.kind != "audio" or (rs.codec == rd.codec and rs.ptime == rd.ptime):
            by_codec = {codec: pt for pt, (codec, _) in rd.formats.items()}
            pt_map = {pt: by_codec[c] for pt, (c, _) in rs.formats.items() if c in by_codec}
            for pt, rate in rs.telephone_events.items():
                out = next((p for p, r in rd.telephone_events.items() if r == rate), None)
                if out is not None:
                    pt_map[pt] = out
            if rs.comfort_noise_pt is not None and rd.comfort_noise_pt is not None:
                pt_map[rs.comfort_noise_pt] = rd.comfort_noise_pt
            rewriter = StreamRewriter(
                dst.ssrc, rd.clock_rate, initial_seq, initial_ts, last_sent_at=resume
            )
            return _Relay(pt_map, rewriter)
        if not rs.formats:
            return None
        return Transcoder(
            formats=rs.formats,
            telephone_events=rs.telephone_events,
            comfort_noise_pt=rs.comfort_noise_pt,
            codec=rd.codec,
            payload_type=rd.send_pt,
            ptime=rd.ptime,
            telephone_event_pt=rd.telephone_event_pt,
            generator=StreamGenerator(dst.ssrc, rd.clock_rate, initial_seq, initial_ts),
            resume_after=resume,
        )

    # -- data path ---------------------------------------------------------------------------

    def receive(self, local_port: int, data: bytes, source: Address, now: float) -> list[Datagram]:
        src, on_rtcp_port = self._ports[local_port]
        counters = src.counters
        if self.mode == "udptl":
            return self._udptl(src, data, source, now)
        if on_rtcp_port or (src.muxed and is_rtcp(data)):
            return self._rtcp(src, data, source, on_rtcp_port, now)
        if len(data) < 12 or data[0] >> 6 != 2:
            counters.dropped_malformed += 1
            return []
        if src.srtp is not None:
            try:
                data = src.srtp.unprotect(data)
            except SrtpError as exc:
                if exc.reason == "replay":
                    counters.dropped_replay += 1
                elif exc.reason == "auth":
                    counters.dropped_auth += 1
                else:
                    counters.dropped_malformed += 1
                return []
        if not src.accept_source(source, rtcp=False):
            return []
        counters.packets_in += 1
        counters.bytes_in += len(data)
        _, second, seq, ts, ssrc = _FIXED.unpack_from(data)
        pt = second & 0x7F
        remote = src.remote
        clock = remote.clock_rate if remote is not None else 8000
        src.observe(ssrc, seq, ts, clock, now)
        dst = self._peer[src.leg]
        direction = self._directions[dst.leg]
        destination = dst.rtp_destination
        if direction is None or destination is None:
            counters.dropped_no_destination += 1
            return []
        if isinstance(direction, _Relay):
            out_pt = direction.pt_map.get(pt)
            if out_pt is None:
                counters.dropped_unknown_pt += 1
                return []
            if remote is not None and pt in remote.telephone_events:
                counters.telephone_events += 1
            r = direction.rewriter.rewrite(ssrc, seq, ts, bool(second & 0x80), now)
            packet = bytearray(data)
            packet[1] = (0x80 if r.marker else 0) | out_pt
            _REWRITE.pack_into(packet, 2, r.sequence_number, r.timestamp, dst.ssrc)
            packets = [bytes(packet)]
        else:
            header = 12 + 4 * (data[0] & 0x0F)
            if data[0] & 0x10:  # skip a header extension; transcoding drops it
                if len(data) < header + 4:
                    counters.dropped_malformed += 1
                    return []
                header += 4 + 4 * int.from_bytes(data[header + 2 : header + 4], "big")
            end = len(data) - (data[-1] if data[0] & 0x20 else 0)
            if end < header:
                counters.dropped_malformed += 1
                return []
            packets = direction.feed(pt, ts, ssrc, data[header:end], counters, now)
        return self._send_rtp(dst, destination, packets, now)

    def _send_rtp(
        self, dst: Endpoint, destination: Address, packets: list[bytes], now: float
    ) -> list[Datagram]:
        out = []
        for packet in packets:
            dst.out_packets += 1
            dst.out_octets += len(packet) - 12
            dst.out_last_seq = int.from_bytes(packet[2:4], "big")
            dst.out_last_ts = int.from_bytes(packet[4:8], "big")
            dst.out_last_now = now
            if dst.srtp is not None:
                try:
                    wire = dst.srtp.protect(packet)
                except SrtpError:
                    # Only a packet too big for SRTP gets here; a relay cannot split it.
                    dst.counters.dropped_malformed += 1
                    continue
            else:
                wire = packet
            dst.counters.packets_out += 1
            dst.counters.bytes_out += len(wire)
            out.append(Datagram(dst.rtp_port, destination, wire))
        return out

    def _udptl(self, src: Endpoint, data: bytes, source: Address, now: float) -> list[Datagram]:
        if not src.accept_source(source, rtcp=False):
            return []
        src.counters.packets_in += 1
        src.counters.bytes_in += len(data)
        src.last_rx = now
        dst = self._peer[src.leg]
        destination = dst.rtp_destination
        if destination is None:
            src.counters.dropped_no_destination += 1
            return []
        dst.counters.packets_out += 1
        dst.counters.bytes_out += len(data)
        return [Datagram(dst.rtp_port, destination, data)]

    # -- RTCP --------------------------------------------------------------------------------

    def _rtcp(
        self, src: Endpoint, data: bytes, source: Address, on_rtcp_port: bool, now: float
    ) -> list[Datagram]:
        counters = src.counters
        if src.srtp is not None:
            try:
                data = src.srtp.unprotect_rtcp(data)
            except SrtpError as exc:
                if exc.reason == "replay":
                    counters.dropped_replay += 1
                elif exc.reason == "auth":
                    counters.dropped_auth += 1
                else:
                    counters.dropped_malformed += 1
                return []
        try:
            packets = parse_compound(data)
        except RtpError:
            counters.dropped_malformed += 1
            return []
        if not src.accept_source(source, rtcp=on_rtcp_port):
            return []
        counters.rtcp_in += 1
        dst = self._peer[src.leg]
        feedback: list[RtcpPacket] = []
        clock = src.remote.clock_rate if src.remote is not None else 8000
        for p in packets:
            if isinstance(p, SenderReport | ReceiverReport):
                for block in p.reports:
                    if block.ssrc == src.ssrc:
                        jitter_ms = 1000.0 * block.jitter / clock
                        src.remote_report = (block.fraction_lost / 256.0, jitter_ms)
            elif isinstance(p, PictureLossIndication):
                if dst.in_ssrc is not None:
                    feedback.append(PictureLossIndication(dst.ssrc, dst.in_ssrc))
            elif isinstance(p, FullIntraRequest):
                if dst.in_ssrc is not None:
                    entries = tuple((dst.in_ssrc, seq) for _, seq in p.entries)
                    feedback.append(FullIntraRequest(dst.ssrc, entries))
            elif isinstance(p, RtcpOther) and p.packet_type == RTPFB and p.count == 1:
                nack = self._translate_nack(src, dst, p)
                if nack is not None:
                    feedback.append(nack)
        if not feedback:
            return []
        # RFC 4585 §3.1: a feedback packet still needs a compound with a report first.
        return self._send_rtcp(dst, [ReceiverReport(dst.ssrc), *feedback])

    def _translate_nack(self, src: Endpoint, dst: Endpoint, p: RtcpOther) -> RtcpOther | None:
        """RFC 4585 §6.2.1 generic NACK: PIDs name our packets to ``src``; map them back."""
        relay = self._directions[src.leg]
        if dst.in_ssrc is None or not isinstance(relay, _Relay) or len(p.body) < 12:
            return None
        fci = bytearray(p.body[8:])
        for offset in range(0, len(fci) - len(fci) % 4, 4):
            pid = int.from_bytes(fci[offset : offset + 2], "big")
            fci[offset : offset + 2] = relay.rewriter.input_sequence(pid).to_bytes(2, "big")
        body = struct.pack("!II", dst.ssrc, dst.in_ssrc) + bytes(fci)
        return RtcpOther(RTPFB, 1, body)

    def _send_rtcp(self, dst: Endpoint, packets: list[RtcpPacket]) -> list[Datagram]:
        destination = dst.rtcp_destination
        if destination is None:
            return []
        data = serialize_compound(packets)
        if dst.srtp is not None:
            try:
                data = dst.srtp.protect_rtcp(data)
            except SrtpError:
                dst.counters.dropped_malformed += 1
                return []
        dst.counters.rtcp_out += 1
        port = dst.rtp_port if dst.muxed else dst.rtcp_port
        return [Datagram(port, destination, data)]

    def reports(self, now: float) -> list[Datagram]:
        """Our periodic SR/RR + SDES to each leg (RFC 3550 §6.4), when due."""
        if self.mode in ("idle", "udptl"):
            return []
        out: list[Datagram] = []
        for leg, endpoint in self.endpoints.items():
            due = self._next_report.get(leg)
            if due is None:
                # RFC 3550 §6.2: randomise the first report so legs do not report in step.
                self._next_report[leg] = now + RTCP_INTERVAL * (0.5 + self._rng.random())
                continue
            if now < due:
                continue
            self._next_report[leg] = now + RTCP_INTERVAL * (0.5 + self._rng.random())
            out.extend(self._send_rtcp(endpoint, self._report(endpoint, now)))
        return out

    def _report(self, endpoint: Endpoint, now: float) -> list[RtcpPacket]:
        blocks: tuple[ReportBlock, ...] = ()
        if endpoint.stats is not None and endpoint.in_ssrc is not None:
            blocks = (endpoint.stats.report_block(endpoint.in_ssrc),)
        first: RtcpPacket
        if endpoint.out_packets and endpoint.out_last_now is not None:
            wall = now + self._wall_offset + _NTP_EPOCH_OFFSET
            ntp = (int(wall) << 32) | int((wall % 1.0) * (1 << 32))
            clock = endpoint.remote.clock_rate if endpoint.remote else 8000
            rtp_ts = endpoint.out_last_ts + int((now - endpoint.out_last_now) * clock)
            first = SenderReport(
                endpoint.ssrc, ntp, rtp_ts, endpoint.out_packets, endpoint.out_octets, blocks
            )
        else:
            first = ReceiverReport(endpoint.ssrc, blocks)
        return [first, SourceDescription((SdesChunk(endpoint.ssrc, ((SDES_CNAME, CNAME),)),))]

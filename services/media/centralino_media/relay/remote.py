"""What one leg's device told us in its SDP, reduced to what the data plane needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from centralino.sdp import Stream

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RemoteMedia:
    """One accepted m-line of a device's SDP.

    ``send_pt``/``codec`` is the format we send to it (its first listed format that we also
    support); ``formats`` maps every payload type it may send us to (codec, clock rate).
    """

    kind: str  # "audio", "video" or "image"
    address: Address | None
    rtcp_address: Address | None
    rtcp_mux: bool
    codec: str | None = None
    send_pt: int | None = None
    clock_rate: int = 8000
    ptime: int = 20
    formats: dict[int, tuple[str, int]] = field(default_factory=dict)
    telephone_events: dict[int, int] = field(default_factory=dict)
    comfort_noise_pt: int | None = None
    sends: bool = True  # False when the device said recvonly/inactive (hold)

    @property
    def udptl(self) -> bool:
        return self.kind == "image"

    @property
    def telephone_event_pt(self) -> int | None:
        for pt, rate in self.telephone_events.items():
            if rate == self.clock_rate:
                return pt
        return None

    @classmethod
    def from_stream(
        cls, stream: Stream, allowed: tuple[str, ...] = (), *, prefer_allowed: bool = False
    ) -> RemoteMedia:
        """Build from a parsed SDP stream; ``allowed`` limits the codecs of this leg.

        The codec we send is the device's first usable one when its SDP is an answer, and
        the first of ``allowed`` it supports when its SDP was an offer we answered in
        ``allowed`` order (``prefer_allowed``), since it then sends our answer's first codec.
        """
        # RFC 2543 hold (c=0.0.0.0) means "do not send", not an address.
        host = stream.address if stream.address not in (None, "0.0.0.0", "::") else None
        address = (host, stream.port) if host and stream.port else None
        if stream.rtcp_mux or not stream.rtcp_port:
            rtcp = address
        else:
            rtcp_host = stream.rtcp_address or host
            rtcp = (rtcp_host, stream.rtcp_port) if rtcp_host else None
        usable = [f for f in stream.formats if not allowed or f.codec in allowed]
        if prefer_allowed and allowed:
            usable.sort(key=lambda f: allowed.index(f.codec))
        chosen = usable[0] if usable else None
        return cls(
            kind=stream.kind,
            address=address,
            rtcp_address=rtcp,
            rtcp_mux=stream.rtcp_mux,
            codec=chosen.codec if chosen else None,
            send_pt=chosen.payload_type if chosen else None,
            clock_rate=chosen.clock_rate if chosen else 8000,
            ptime=stream.ptime or 20,
            formats={f.payload_type: (f.codec, f.clock_rate) for f in usable},
            telephone_events=dict(stream.telephone_events),
            comfort_noise_pt=stream.comfort_noise_pt,
            sends=stream.direction in ("sendrecv", "sendonly"),
        )

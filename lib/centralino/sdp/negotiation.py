"""Offer/answer (RFC 3264) for the PBX: what we offer, what we answer, what was agreed.

Rules we apply, in order of the RFC sections they come from:

* An offer for an account lists exactly the account's selected codecs in its configured order
  (ACC-22 audio, ACC-23 video), followed by RFC 4733 ``telephone-event`` at each clock rate used.
* An answer keeps every offered m-line in place (RFC 3264 §6). A stream is accepted when it is the
  first of its kind, we offered that kind locally, and there is a common codec; otherwise its port
  is 0 and it lists only the first offered format. A video line without a common codec is
  rejected while audio goes on (FEAT-04).
* Answered codecs follow the local (account) order, use the offerer's payload type numbers
  (RFC 3264 §6.1) and keep the offerer's ``a=fmtp``.
* Direction is mirrored: an offer ``sendonly`` (hold) is answered ``recvonly`` (RFC 3264 §6.1).
* An ``RTP/SAVP`` offer is answered with our key for the first offered suite we hold a key for,
  under the offerer's tag (RFC 4568 §7.1.2); no usable suite rejects the stream.
* A T.38 ``image/udptl`` offer is passed through: its T38 attributes are echoed (FEAT-05).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from centralino.sdp.attributes import (
    CryptoAttribute,
    RtpMap,
    crypto_attributes,
    fmtps,
    ptime,
    rtcp_address,
    rtpmaps,
)
from centralino.sdp.codecs import (
    COMFORT_NOISE_PT,
    TELEPHONE_EVENT_PT,
    codec_spec,
    identify,
)
from centralino.sdp.errors import SdpNegotiationError, SdpUsageError
from centralino.sdp.model import (
    Attribute,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
)

RTP_AVP = "RTP/AVP"
RTP_SAVP = "RTP/SAVP"
UDPTL = "udptl"
T38 = "t38"

_MIRROR = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
_VIDEO_FEEDBACK = ("nack", "nack pli", "ccm fir")


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """What this side offers or accepts for one kind of media (one m-line).

    ``codecs`` are account codec names in preference order (ignored for ``image``).
    ``crypto`` non-empty makes an offer ``RTP/SAVP``; in an answer it is the pool of our keys.
    """

    kind: str
    port: int
    codecs: tuple[str, ...] = ()
    rtcp_mux: bool = False
    rtcp_port: int | None = None
    crypto: tuple[CryptoAttribute, ...] = field(default=(), repr=False)
    ptime: int | None = None
    dtmf: bool = True
    direction: str = "sendrecv"
    comfort_noise: bool = False  # RFC 3389 CN (PT 13): offered when set, answered if offered

    def __post_init__(self) -> None:
        if self.kind not in ("audio", "video", "image"):
            raise SdpUsageError(f"unknown media kind {self.kind!r}")
        if not 0 <= self.port <= 65535:
            raise SdpUsageError(f"port {self.port} out of range")
        for name in self.codecs:
            if codec_spec(name).media != self.kind:
                raise SdpUsageError(f"codec {name} is not {self.kind}")


@dataclass(frozen=True, slots=True)
class Format:
    """One agreed payload format: the account codec, its payload type, clock and fmtp."""

    codec: str
    payload_type: int
    clock_rate: int
    fmtp: str | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    """One m-line read from a peer's SDP: where to send, what it accepts, how to protect it."""

    index: int
    kind: str
    proto: str
    port: int
    address: str | None
    rtcp_port: int | None
    rtcp_address: str | None
    rtcp_mux: bool
    formats: tuple[Format, ...]
    telephone_events: dict[int, int]  # payload type -> clock rate
    comfort_noise_pt: int | None
    ptime: int | None
    direction: str
    crypto: tuple[CryptoAttribute, ...] = field(repr=False)
    attributes: tuple[Attribute, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.port != 0

    @property
    def secure(self) -> bool:
        return self.proto.upper().endswith("SAVP") or self.proto.upper().endswith("SAVPF")

    @property
    def codec(self) -> Format | None:
        """The format the peer prefers (first listed): what it will send and wants to get."""
        return self.formats[0] if self.formats else None

    @property
    def on_hold(self) -> bool:
        """RFC 3264 §8.4 hold, or the RFC 2543 ``c=0.0.0.0`` form older phones still use."""
        return self.direction in ("sendonly", "inactive") or self.address == "0.0.0.0"

    def telephone_event_pt(self, clock_rate: int) -> int | None:
        for pt, rate in self.telephone_events.items():
            if rate == clock_rate:
                return pt
        return None


def intersect(
    offered: Iterable[str], allowed: Sequence[str], *, prefer: str = "local"
) -> list[str]:
    """Codecs in both lists, ordered by ``allowed`` (``prefer="local"``) or by ``offered``."""
    wanted = {codec_spec(n).name for n in allowed}
    theirs = [codec_spec(n).name for n in offered]
    common = [n for n in dict.fromkeys(theirs) if n in wanted]
    if prefer == "local":
        rank = {codec_spec(n).name: i for i, n in enumerate(allowed)}
        common.sort(key=rank.__getitem__)
    elif prefer != "offer":
        raise SdpUsageError(f"prefer must be 'local' or 'offer', not {prefer!r}")
    return common


def streams(sdp: SessionDescription) -> list[Stream]:
    """Every m-line of ``sdp`` read as a :class:`Stream` (formats we do not know are skipped)."""
    return [_read_stream(sdp, i, m) for i, m in enumerate(sdp.media)]


def _read_stream(sdp: SessionDescription, index: int, m: MediaDescription) -> Stream:
    maps = rtpmaps(m)
    params = fmtps(m)
    formats: list[Format] = []
    tel: dict[int, int] = {}
    cn: int | None = None
    if m.media in ("audio", "video"):
        for fmt in m.formats:
            if not fmt.isdigit():
                continue
            pt = int(fmt)
            rm = maps.get(pt)
            if rm is not None and rm.encoding.lower() == "telephone-event":
                tel[pt] = rm.clock_rate
                continue
            if (rm is not None and rm.encoding.upper() == "CN") or (
                rm is None and pt == COMFORT_NOISE_PT
            ):
                cn = pt
                continue
            spec = identify(m.media, pt, rm.encoding if rm else None, rm.clock_rate if rm else None)
            if spec is not None:
                clock = rm.clock_rate if rm else spec.clock_rate
                formats.append(Format(spec.name, pt, clock, params.get(fmt)))
    conn = sdp.connection_for(m)
    rtcp = rtcp_address(m)
    return Stream(
        index=index,
        kind=m.media,
        proto=m.proto,
        port=m.port,
        address=conn.host if conn else None,
        rtcp_port=rtcp.port if rtcp else (m.port + 1 if m.port else None),
        rtcp_address=rtcp.address if rtcp and rtcp.address else None,
        rtcp_mux=m.has_attribute("rtcp-mux"),
        formats=tuple(formats),
        telephone_events=tel,
        comfort_noise_pt=cn,
        ptime=ptime(m) if m.media == "audio" else None,
        direction=sdp.direction_for(m),
        crypto=tuple(c for c in crypto_attributes(m) if c.supported),
        attributes=m.attributes,
    )


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def _origin(address: str, session_id: int, version: int, username: str) -> Origin:
    return Origin(username, str(session_id), version, "IN", _addrtype(address), address)


def _rtp_attributes(formats: Sequence[Format]) -> list[Attribute]:
    """``a=rtpmap`` (and ``a=fmtp`` when the format has parameters) for each format."""
    attrs: list[Attribute] = []
    for f in formats:
        spec = codec_spec(f.codec)
        attrs.append(RtpMap(f.payload_type, spec.encoding, f.clock_rate, spec.channels).attribute())
        if f.fmtp:
            attrs.append(Attribute("fmtp", f"{f.payload_type} {f.fmtp}"))
    return attrs


def _media_tail(local: LocalMedia, crypto: Sequence[CryptoAttribute]) -> list[Attribute]:
    attrs: list[Attribute] = []
    if local.kind == "audio" and local.ptime:
        attrs.append(Attribute("ptime", str(local.ptime)))
    if local.kind == "video":
        attrs.extend(Attribute("rtcp-fb", f"* {fb}") for fb in _VIDEO_FEEDBACK)
    if local.rtcp_port is not None and local.rtcp_port != local.port + 1:
        attrs.append(Attribute("rtcp", str(local.rtcp_port)))
    if local.rtcp_mux:
        attrs.append(Attribute("rtcp-mux"))
    attrs.extend(c.attribute() for c in crypto)
    return attrs


def _offer_media(local: LocalMedia) -> MediaDescription:
    if local.kind == "image":
        return MediaDescription(
            "image",
            local.port,
            UDPTL,
            (T38,),
            attributes=(
                Attribute("T38FaxVersion", "0"),
                Attribute("T38FaxRateManagement", "transferredTCF"),
                Attribute("T38FaxUdpEC", "t38UDPRedundancy"),
                Attribute(local.direction),
            ),
        )
    if not local.codecs:
        raise SdpUsageError(f"no codecs selected for {local.kind}")
    specs = [codec_spec(n) for n in local.codecs]
    formats = [Format(s.name, s.payload_type, s.clock_rate, s.fmtp) for s in specs]
    attrs = _rtp_attributes(formats)
    pts = [str(f.payload_type) for f in formats]
    if local.kind == "audio" and local.dtmf:
        for rate in dict.fromkeys(s.clock_rate for s in specs):
            pt = TELEPHONE_EVENT_PT.get(rate)
            if pt is None:
                continue
            pts.append(str(pt))
            attrs.append(RtpMap(pt, "telephone-event", rate).attribute())
            attrs.append(Attribute("fmtp", f"{pt} 0-16"))
    if local.kind == "audio" and local.comfort_noise:
        pts.append(str(COMFORT_NOISE_PT))
        attrs.append(RtpMap(COMFORT_NOISE_PT, "CN", 8000).attribute())
    attrs.extend(_media_tail(local, local.crypto))
    attrs.append(Attribute(local.direction))
    proto = RTP_SAVP if local.crypto else RTP_AVP
    return MediaDescription(local.kind, local.port, proto, tuple(pts), attributes=tuple(attrs))


def build_offer(
    address: str,
    media: Sequence[LocalMedia],
    *,
    session_id: int,
    session_version: int = 0,
    username: str = "centralino",
) -> SessionDescription:
    """An offer listing, per m-line, exactly the selected codecs in their order (ACC-22/23)."""
    if not media:
        raise SdpUsageError("an offer needs at least one media line")
    return SessionDescription(
        origin=_origin(address, session_id, session_version, username),
        session_name="centralino",
        connection=Connection(address, _addrtype(address)),
        media=tuple(_offer_media(m) for m in media),
    )


def _reject(m: MediaDescription) -> MediaDescription:
    return MediaDescription(m.media, 0, m.proto, m.formats[:1] or ("0",))


def _answer_rtp(offer: Stream, m: MediaDescription, local: LocalMedia) -> MediaDescription | None:
    crypto: list[CryptoAttribute] = []
    if offer.secure:
        ours = {c.suite: c for c in local.crypto}
        chosen = next((c for c in offer.crypto if c.suite in ours), None)
        if chosen is None:
            return None
        mine = ours[chosen.suite]
        crypto = [CryptoAttribute(tag=chosen.tag, suite=mine.suite, key_salt=mine.key_salt)]
    by_name = {f.codec: f for f in offer.formats}
    common = intersect(by_name, local.codecs)
    if not common:
        return None
    formats = [by_name[n] for n in common]
    attrs = _rtp_attributes(formats)
    pts = [str(f.payload_type) for f in formats]
    if offer.kind == "audio" and local.dtmf:
        rates = {f.clock_rate for f in formats}
        for pt, rate in offer.telephone_events.items():
            if rate in rates:
                pts.append(str(pt))
                attrs.append(RtpMap(pt, "telephone-event", rate).attribute())
                attrs.append(Attribute("fmtp", f"{pt} 0-16"))
    if offer.kind == "audio" and local.comfort_noise and offer.comfort_noise_pt is not None:
        pts.append(str(offer.comfort_noise_pt))
        attrs.append(RtpMap(offer.comfort_noise_pt, "CN", 8000).attribute())
    # RFC 5761 §5.1.1: answer rtcp-mux only when it was offered and we can do it.
    mux = replace(local, rtcp_mux=local.rtcp_mux and offer.rtcp_mux)
    attrs.extend(_media_tail(mux, crypto))
    attrs.append(Attribute(_MIRROR.get(offer.direction, local.direction)))
    return MediaDescription(m.media, local.port, m.proto, tuple(pts), attributes=tuple(attrs))


def _answer_image(offer: Stream, m: MediaDescription, local: LocalMedia) -> MediaDescription:
    echoed = [a for a in m.attributes if a.name.startswith("T38")]
    echoed.append(Attribute(_MIRROR.get(offer.direction, local.direction)))
    return MediaDescription("image", local.port, m.proto, m.formats, attributes=tuple(echoed))


def build_answer(
    offer: SessionDescription,
    address: str,
    local: Sequence[LocalMedia],
    *,
    session_id: int,
    session_version: int = 0,
    username: str = "centralino",
) -> SessionDescription:
    """Answer ``offer`` with ``local`` capabilities (one :class:`LocalMedia` per kind).

    Raises :class:`SdpNegotiationError` (488) when no stream at all can be accepted.
    """
    by_kind = {m.kind: m for m in local}
    used: set[str] = set()
    answered: list[MediaDescription] = []
    for stream, m in zip(streams(offer), offer.media, strict=True):
        mine = by_kind.get(stream.kind)
        result: MediaDescription | None = None
        if mine is not None and stream.accepted and stream.kind not in used:
            if stream.kind == "image":
                if m.proto.lower() == UDPTL and T38 in m.formats:
                    result = _answer_image(stream, m, mine)
            else:
                result = _answer_rtp(stream, m, mine)
        if result is None:
            answered.append(_reject(m))
        else:
            used.add(stream.kind)
            answered.append(result)
    if not used:
        raise SdpNegotiationError("no acceptable media stream in the offer")
    return SessionDescription(
        origin=_origin(address, session_id, session_version, username),
        session_name="centralino",
        connection=Connection(address, _addrtype(address)),
        media=tuple(answered),
    )


def first_stream(sdp: SessionDescription, kind: str) -> Stream | None:
    """The first accepted m-line of ``kind`` (RFC 3264 allows several; we use one)."""
    return next((s for s in streams(sdp) if s.kind == kind and s.accepted), None)

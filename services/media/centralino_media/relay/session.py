"""A media session: the two legs of one call, their SDP, keys and streams (sans-IO).

The router allocates a session with two legs; each leg is one device with its own account
settings (ACC-24): codec lists, NAT, SRTP, rtcp-mux. For each leg we produce the SDP to
present to its device (an offer, or an answer once the device's offer arrived) and take the
device's SDP back (:meth:`MediaSession.update`). The data path is in :class:`Bridge`; this
class owns what surrounds it: which bridge a port belongs to, SRTP keys, fax switching,
idle detection and statistics.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from centralino.sdp import (
    CryptoAttribute,
    LocalMedia,
    SessionDescription,
    Stream,
    build_answer,
    build_offer,
    first_stream,
    streams,
)
from centralino_media.relay.bridge import Bridge, Datagram
from centralino_media.relay.endpoint import Endpoint
from centralino_media.relay.remote import Address, RemoteMedia
from centralino_media.srtp import SrtpContext

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")


class SessionError(ValueError):
    """A request about a session that cannot be honoured (unknown leg, bad SDP...)."""


@dataclass(frozen=True, slots=True)
class LegSettings:
    name: str
    codecs: tuple[str, ...]
    video_codecs: tuple[str, ...] = ()
    nat: bool = False
    srtp: bool = False
    rtcp_mux: bool = False
    signalling_tls: bool = True


@dataclass(frozen=True, slots=True)
class LegPorts:
    audio: tuple[int, int]
    video: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class MediaWarning:
    """Something an operator should know, published as an event (never carries key material)."""

    leg: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class LegStats:
    leg: str
    packets_in: int
    packets_out: int
    dropped: int
    loss_fraction: float
    jitter_ms: float
    remote_loss_fraction: float
    remote_jitter_ms: float
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SessionLeg:
    """One leg's settings, ports, our SRTP keys, and the SDP exchanged with its device."""

    settings: LegSettings
    ports: LegPorts
    keys: tuple[CryptoAttribute, ...]
    codec: str | None = None
    local_sdp: SessionDescription | None = None
    remote_sdp: SessionDescription | None = None
    version: int = 0


class MediaSession:
    def __init__(
        self,
        session_id: str,
        address: str,
        legs: Sequence[LegSettings],
        ports: dict[str, LegPorts],
        *,
        rng: random.Random | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        wall_offset: float = 0.0,
    ) -> None:
        if len(legs) != 2 or legs[0].name == legs[1].name:
            raise SessionError("a session has exactly two legs with distinct names")
        self.session_id = session_id
        self.address = address
        self._rng = rng or random.Random()
        self._session_number = self._rng.randrange(1 << 62)
        self._legs: dict[str, SessionLeg] = {}
        for settings in legs:
            if not settings.codecs:
                raise SessionError(f"leg {settings.name!r} has no audio codec")
            keys = (
                tuple(
                    CryptoAttribute.generate(tag, suite, random_bytes)
                    for tag, suite in enumerate(SUITES, start=1)
                )
                if settings.srtp
                else ()
            )
            self._legs[settings.name] = SessionLeg(settings, ports[settings.name], keys)
        a, b = (self._legs[s.name] for s in legs)
        self.bridges: dict[str, Bridge] = {
            "audio": self._bridge("audio", a, b, wall_offset),
        }
        if a.ports.video and b.ports.video:
            self.bridges["video"] = self._bridge("video", a, b, wall_offset)
        self._by_port = {port: bridge for bridge in self.bridges.values() for port in bridge.ports}
        self.fax = False

    def _bridge(self, kind: str, a: SessionLeg, b: SessionLeg, wall_offset: float) -> Bridge:
        def endpoint(leg: SessionLeg) -> Endpoint:
            rtp, rtcp = leg.ports.audio if kind == "audio" else (leg.ports.video or (0, 0))
            ssrc = self._rng.randrange(1, 1 << 32)
            return Endpoint(leg.settings.name, rtp, rtcp, leg.settings.nat, ssrc)

        return Bridge(kind, endpoint(a), endpoint(b), self._rng, wall_offset)

    # -- SDP -----------------------------------------------------------------------------

    @property
    def leg_names(self) -> list[str]:
        return list(self._legs)

    def ports(self) -> list[int]:
        return list(self._by_port)

    def leg(self, name: str) -> SessionLeg:
        try:
            return self._legs[name]
        except KeyError:
            raise SessionError(f"session {self.session_id} has no leg {name!r}") from None

    def _local_media(self, leg: SessionLeg, answering: bool = False) -> list[LocalMedia]:
        s = leg.settings
        rtp, rtcp = leg.ports.audio
        if self.fax:
            return [LocalMedia("image", rtp)]
        # Offers list exactly the account's codecs (ACC-22); answers accept CN when offered.
        media = [
            LocalMedia(
                "audio",
                rtp,
                s.codecs,
                rtcp_mux=s.rtcp_mux,
                rtcp_port=rtcp,
                crypto=leg.keys,
                comfort_noise=answering,
            )
        ]
        # Video is never transcoded (FEAT-04): offer only what the other leg can take too.
        video = self._common_video(leg)
        if (video or answering) and leg.ports.video:
            vrtp, vrtcp = leg.ports.video
            media.append(
                LocalMedia(
                    "video", vrtp, video, rtcp_mux=s.rtcp_mux, rtcp_port=vrtcp, crypto=leg.keys
                )
            )
        return media

    def _common_video(self, leg: SessionLeg) -> tuple[str, ...]:
        others = [o.settings.video_codecs for o in self._legs.values() if o is not leg]
        return tuple(c for c in leg.settings.video_codecs if all(c in o for o in others))

    def local_sdp(self, name: str) -> SessionDescription:
        """The SDP for this leg's device: our answer if it made an offer, else our offer."""
        leg = self.leg(name)
        if leg.local_sdp is None:
            leg.local_sdp = build_offer(
                self.address,
                self._local_media(leg),
                session_id=self._session_number,
                session_version=leg.version,
            )
        return leg.local_sdp

    def update(self, name: str, remote: bytes, *, is_offer: bool) -> list[MediaWarning]:
        """Apply the SDP the device of leg ``name`` sent (offer or answer)."""
        leg = self.leg(name)
        sdp = SessionDescription.parse(remote)
        warnings: list[MediaWarning] = []
        if first_stream(sdp, "image") is not None and not self.fax:
            # FEAT-05: a T.38 re-INVITE; the other legs get a fresh offer for T.38 too.
            self.fax = True
            for other in self._legs.values():
                if other is not leg:
                    other.local_sdp = None
                    other.version += 1
        if is_offer:
            leg.version += 1
            # An offer with nothing acceptable raises SdpNegotiationError (488) to the caller.
            answer = build_answer(
                sdp,
                self.address,
                self._local_media_for_answer(leg),
                session_id=self._session_number,
                session_version=leg.version,
            )
            leg.local_sdp = answer
            ours = answer
        else:
            ours = self.local_sdp(name)
        leg.remote_sdp = sdp
        for kind, bridge in self.bridges.items():
            endpoint = bridge.endpoints[name]
            stream = self._stream_for(sdp, ours, kind)
            if stream is None:
                endpoint.update(self._closed(kind), None)
                continue
            allowed = leg.settings.codecs if kind == "audio" else leg.settings.video_codecs
            remote_media = RemoteMedia.from_stream(
                stream, () if stream.kind == "image" else allowed, prefer_allowed=is_offer
            )
            srtp = self._srtp(leg, stream, ours, kind)
            endpoint.update(remote_media, srtp)
            if kind == "audio":
                leg.codec = remote_media.codec if stream.kind == "audio" else "T38"
            if srtp is not None and not leg.settings.signalling_tls:
                warnings.append(
                    MediaWarning(
                        name,
                        "srtp_without_tls",
                        "SRTP keys were exchanged over signalling that is not TLS (ACC-17)",
                    )
                )
        for bridge in self.bridges.values():
            bridge.configure()
        return list({w.code: w for w in warnings}.values())

    def _local_media_for_answer(self, leg: SessionLeg) -> list[LocalMedia]:
        media = self._local_media(leg, answering=True)
        rtp, _ = leg.ports.audio
        if not self.fax:
            # Accept a T.38 switch on the audio ports as well (FEAT-05).
            media.append(LocalMedia("image", rtp))
        return media

    @staticmethod
    def _closed(kind: str) -> RemoteMedia:
        return RemoteMedia(kind=kind, address=None, rtcp_address=None, rtcp_mux=False)

    @staticmethod
    def _stream_for(sdp: SessionDescription, ours: SessionDescription, kind: str) -> Stream | None:
        """The device's stream for ``kind`` that is also accepted in our SDP."""
        wanted = ("audio", "image") if kind == "audio" else (kind,)
        accepted_here = {s.kind for s in _accepted(ours)}
        for stream in _accepted(sdp):
            if stream.kind in wanted and stream.kind in accepted_here:
                return stream
        return None

    def _srtp(
        self, leg: SessionLeg, stream: Stream, ours: SessionDescription, kind: str
    ) -> SrtpContext | None:
        if not stream.secure or not leg.keys:
            return None
        mine = first_stream(ours, kind)
        if mine is None or not mine.crypto or not stream.crypto:
            return None
        # RFC 4568 §7: offer and answer agree on one crypto line, same tag and suite. Our
        # answer carries only that line; their answer names it by our offer's tag.
        pair = next(
            (
                (local, theirs)
                for local in mine.crypto
                for theirs in stream.crypto
                if local.tag == theirs.tag and local.suite == theirs.suite
            ),
            None,
        )
        if pair is None:
            raise SessionError(f"leg {leg.settings.name}: no matching SRTP crypto attribute")
        local, theirs = pair
        return SrtpContext(local.suite, local.key_salt, theirs.key_salt)

    # -- data path -----------------------------------------------------------------------

    def receive(self, local_port: int, data: bytes, source: Address, now: float) -> list[Datagram]:
        return self._by_port[local_port].receive(local_port, data, source, now)

    def poll(self, now: float) -> list[Datagram]:
        out: list[Datagram] = []
        for bridge in self.bridges.values():
            out.extend(bridge.reports(now))
        return out

    @property
    def transcoding(self) -> bool:
        return any(b.transcoding for b in self.bridges.values())

    def idle_seconds(self, now: float, started: float) -> float:
        """Seconds since the last packet from a leg expected to send audio (0: nobody is).

        A device on hold that said ``recvonly``/``inactive`` is not expected to send, so it
        does not make the call look dead.
        """
        idle = 0.0
        for endpoint in self.bridges["audio"].endpoints.values():
            remote = endpoint.remote
            if remote is None or not remote.sends or (remote.address is None and not endpoint.nat):
                continue
            last = endpoint.last_rx if endpoint.last_rx is not None else started
            idle = max(idle, now - last)
        return idle

    def stats(self) -> list[LegStats]:
        out = []
        for name in self._legs:
            endpoint = self.bridges["audio"].endpoints[name]
            snap = endpoint.stats.snapshot() if endpoint.stats else None
            remote_loss, remote_jitter = endpoint.remote_report or (0.0, 0.0)
            c = endpoint.counters
            out.append(
                LegStats(
                    leg=name,
                    packets_in=c.packets_in,
                    packets_out=c.packets_out,
                    dropped=c.dropped,
                    loss_fraction=snap.fraction_lost if snap else 0.0,
                    jitter_ms=snap.jitter_ms if snap else 0.0,
                    remote_loss_fraction=remote_loss,
                    remote_jitter_ms=remote_jitter,
                    counters=c.as_dict(),
                )
            )
        return out

    def close(self) -> None:
        for bridge in self.bridges.values():
            bridge.close()


def _accepted(sdp: SessionDescription) -> list[Stream]:
    return [s for s in streams(sdp) if s.accepted]

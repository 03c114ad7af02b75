"""Session control: allocate, update, renew, release, and the periodic housekeeping.

Independent of gRPC so tests and the servicer share it; events go out through an
``EventSink`` (the NATS bus in the service).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from google.protobuf.message import Message

from centralino.bus import SYSTEM_TENANT, SubjectError, event_subject
from centralino.sdp import SdpUsageError, codec_spec
from centralino.v1 import common_pb2, media_pb2
from centralino_media.dataplane import DataPlane
from centralino_media.licences import LicenceGate, NoChannel, Renewal
from centralino_media.metrics import MediaMetrics
from centralino_media.registry import SessionRecord, SessionRegistry
from centralino_media.relay import LegPorts, LegSettings, MediaSession, MediaWarning
from centralino_media.settings import MediaSettings

log = logging.getLogger(__name__)

LICENSED_CODEC = "G729"


class AllocationError(ValueError):
    """The request cannot be served as asked (bad legs, unknown codecs...)."""


class LicenceUnavailableError(AllocationError):
    """A leg offers only G.729, which would be transcoded, and no G.729 channel is free."""


def _may_transcode_g729(legs: Sequence[LegSettings]) -> bool:
    """True when one leg may end up on G.729 and the other on something else."""
    a, b = legs
    return any(
        LICENSED_CODEC in one.codecs and any(c != LICENSED_CODEC for c in other.codecs)
        for one, other in ((a, b), (b, a))
    )


def _check_codecs(leg: str, names: Sequence[str], kind: str) -> None:
    for name in names:
        try:
            spec = codec_spec(name)
        except SdpUsageError as exc:
            raise AllocationError(f"leg {leg}: {exc}") from None
        if spec.media != kind:
            raise AllocationError(f"leg {leg}: {name} is a {spec.media} codec, not {kind}")


class EventSink(Protocol):
    async def publish(self, subject: str, message: Message) -> None: ...


@dataclass(frozen=True, slots=True)
class EventSource:
    service: str
    instance: str

    def meta(self, tenant: str, correlation_id: str) -> common_pb2.EventMeta:
        return common_pb2.EventMeta(
            tenant=tenant,
            source=self.service,
            instance=self.instance,
            time_unix_ms=int(time.time() * 1000),
            correlation_id=correlation_id,
        )


class MediaController:
    def __init__(
        self,
        settings: MediaSettings,
        plane: DataPlane,
        events: EventSink,
        source: EventSource,
        licences: LicenceGate | None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.plane = plane
        self.events = events
        self.source = source
        self.licences = licences
        self.registry = SessionRegistry(
            settings.inactivity_seconds, settings.stats_interval_seconds
        )
        self._rng = rng or random.SystemRandom()
        self.metrics = MediaMetrics(lambda: [r.session for r in self.registry.all()])

    # -- requests ------------------------------------------------------------------------

    def _lease(self, requested: int) -> int:
        if requested <= 0:
            return self.settings.default_lease_seconds
        return min(requested, self.settings.max_lease_seconds)

    async def allocate(self, request: media_pb2.AllocateRequest) -> SessionRecord:
        if not request.call_id or not request.owner:
            raise AllocationError("call_id and owner are required")
        if len(request.legs) != 2 or request.legs[0].name == request.legs[1].name:
            raise AllocationError("exactly two legs with distinct names are required")
        for spec in request.legs:
            _check_codecs(spec.name, spec.codecs, "audio")
            _check_codecs(spec.name, spec.video_codecs, "video")
        tenant = request.tenant or SYSTEM_TENANT
        try:
            event_subject(tenant, "media")
        except SubjectError as exc:
            raise AllocationError(str(exc)) from None
        session_id = uuid.uuid4().hex
        legs = [
            LegSettings(
                name=spec.name,
                codecs=tuple(c.upper() for c in spec.codecs),
                video_codecs=tuple(c.upper() for c in spec.video_codecs),
                nat=spec.nat,
                srtp=spec.srtp,
                rtcp_mux=spec.rtcp_mux,
                signalling_tls=spec.signalling_tls,
            )
            for spec in request.legs
        ]
        for leg in legs:
            if not leg.codecs:
                raise AllocationError(f"leg {leg.name}: no audio codec")
        leases: list[str] = []
        if _may_transcode_g729(legs):
            try:
                if self.licences is None:
                    raise NoChannel("no licensing service configured")
                leases.append(await self.licences.acquire(session_id))
            except NoChannel as exc:
                # No channel: offer the legs their other codecs rather than failing the call.
                log.info("G.729 not offered: %s", exc, extra={"session_id": session_id})
                legs = [
                    replace(leg, codecs=tuple(c for c in leg.codecs if c != LICENSED_CODEC))
                    for leg in legs
                ]
                for leg in legs:
                    if not leg.codecs:
                        raise LicenceUnavailableError(
                            f"leg {leg.name} offers only G.729 and no G.729 channel is "
                            f"available: {exc}"
                        ) from None
        # Video ports only when the legs share a video codec: video is never transcoded.
        video = bool(set(legs[0].video_codecs) & set(legs[1].video_codecs))
        ports: dict[str, LegPorts] = {}
        rtp_ports: list[int] = []
        try:
            for leg in legs:
                audio = await self.plane.open_pair()
                rtp_ports.append(audio[0])
                video_pair = None
                if video:
                    video_pair = await self.plane.open_pair()
                    rtp_ports.append(video_pair[0])
                ports[leg.name] = LegPorts(audio, video_pair)
            session = MediaSession(
                session_id,
                self.settings.advertised_address,
                legs,
                ports,
                rng=random.Random(self._rng.getrandbits(64)),
                wall_offset=time.time() - self.plane.now(),
            )
        except Exception:
            for port in rtp_ports:
                self.plane.close_pair(port)
            await self._release_licences(leases)
            raise
        now = self.plane.now()
        record = SessionRecord(
            session=session,
            call_id=request.call_id,
            tenant=tenant,
            owner=request.owner,
            started=now,
            lease_expires=now + self._lease(request.lease_seconds),
            rtp_ports=rtp_ports,
            licence_leases=leases,
        )
        self.registry.add(record)
        self.plane.attach(session)
        log.info(
            "session allocated",
            extra={"session_id": session_id, "call_id": request.call_id, "owner": request.owner},
        )
        return record

    async def update_leg(self, request: media_pb2.UpdateLegRequest) -> SessionRecord:
        record = self.registry.get(request.session_id)
        warnings = record.session.update(
            request.leg, request.remote_sdp, is_offer=request.remote_is_offer
        )
        for w in warnings:
            await self._warn(record, w)
        return record

    def renew(self, session_id: str, lease_seconds: int) -> SessionRecord:
        return self.registry.renew(session_id, self._lease(lease_seconds), self.plane.now())

    async def release(self, session_id: str, reason: str) -> bool:
        try:
            record = self.registry.remove(session_id)
        except KeyError:
            return False
        await self._publish_stats(record)
        self._close(record)
        await self._release_licences(record.licence_leases)
        log.info(
            "session released",
            extra={"session_id": session_id, "call_id": record.call_id, "reason": reason},
        )
        return True

    def _close(self, record: SessionRecord) -> None:
        for port in record.rtp_ports:
            self.plane.close_pair(port)
        self.metrics.released(record.session)
        record.session.close()

    async def _release_licences(self, leases: Sequence[str]) -> None:
        if self.licences is not None:
            for lease in leases:
                await self.licences.release(lease)

    async def close(self) -> None:
        for record in self.registry.all():
            await self.release(record.session_id, "shutdown")

    # -- housekeeping --------------------------------------------------------------------

    async def tick(self) -> None:
        """Run once a second: reap expired leases, report inactivity and stats, send RTCP."""
        now = self.plane.now()
        for record in self.registry.expired(now):
            # Released before it is announced: whoever reacts to the event finds it gone.
            await self.release(record.session_id, "lease expired")
            await self._error(record, "lease_expired", f"owner {record.owner} stopped renewing")
        for record, idle in self.registry.newly_inactive(now):
            await self.events.publish(
                event_subject(record.tenant, "media", "session", "inactive"),
                media_pb2.MediaInactivity(
                    meta=self.source.meta(record.tenant, record.call_id),
                    session_id=record.session_id,
                    call_id=record.call_id,
                    idle_seconds=int(idle),
                ),
            )
        for record in self.registry.stats_due(now):
            await self._publish_stats(record)
        for record in self.registry.all():
            self.plane.send(record.session.poll(now))

    async def renew_licences(self) -> None:
        """Run every ``licences.renew_seconds``: renew the G.729 leases, replace lost ones."""
        if self.licences is None:
            return
        for record in self.registry.all():
            held = [
                lease
                for lease in record.licence_leases
                if await self.licences.renew(lease) is not Renewal.LOST
            ]
            lost = len(held) < len(record.licence_leases) or record.licence_missing
            record.licence_leases = held
            if lost:
                await self._replace_lease(record, self.licences)

    async def _replace_lease(self, record: SessionRecord, licences: LicenceGate) -> None:
        """The lease expired under the session (licensing was unreachable for a whole TTL):
        take a new one, or tell the router the call transcodes G.729 unlicensed."""
        try:
            lease = await licences.acquire(record.session_id)
        except NoChannel as exc:
            if not record.licence_missing:
                record.licence_missing = True
                session = record.session
                leg = next(
                    (n for n in session.leg_names if session.leg(n).codec == LICENSED_CODEC), ""
                )
                await self._warn(
                    record,
                    MediaWarning(leg, "g729_licence_lost", f"G.729 channel lost: {exc}"),
                )
            return
        if record.session_id not in self.registry:
            await licences.release(lease)  # released while we were asking
            return
        record.licence_leases.append(lease)
        record.licence_missing = False

    async def _publish_stats(self, record: SessionRecord) -> None:
        session = record.session
        for s in session.stats():
            await self.events.publish(
                event_subject(record.tenant, "media", "session", "stats"),
                media_pb2.MediaStats(
                    meta=self.source.meta(record.tenant, record.call_id),
                    session_id=record.session_id,
                    call_id=record.call_id,
                    leg=s.leg,
                    packets_in=s.packets_in,
                    packets_out=s.packets_out,
                    packets_dropped=s.dropped,
                    loss_fraction=s.loss_fraction,
                    jitter_ms=s.jitter_ms,
                    remote_loss_fraction=s.remote_loss_fraction,
                    remote_jitter_ms=s.remote_jitter_ms,
                    dropped_auth=s.counters["dropped_auth"],
                    dropped_replay=s.counters["dropped_replay"],
                    dropped_foreign=s.counters["dropped_foreign"],
                    codec=session.leg(s.leg).codec or "",
                    transcoding=session.transcoding,
                ),
            )

    async def _warn(self, record: SessionRecord, warning: MediaWarning) -> None:
        log.warning(
            warning.message,
            extra={
                "session_id": record.session_id,
                "call_id": record.call_id,
                "leg": warning.leg,
                "code": warning.code,
            },
        )
        await self.events.publish(
            event_subject(record.tenant, "media", "session", "warning"),
            media_pb2.MediaWarning(
                meta=self.source.meta(record.tenant, record.call_id),
                session_id=record.session_id,
                call_id=record.call_id,
                leg=warning.leg,
                code=warning.code,
                message=warning.message,
            ),
        )

    async def _error(self, record: SessionRecord, code: str, message: str) -> None:
        log.warning(message, extra={"session_id": record.session_id, "code": code})
        await self.events.publish(
            event_subject(record.tenant, "media", "session", "error"),
            media_pb2.MediaError(
                meta=self.source.meta(record.tenant, record.call_id),
                session_id=record.session_id,
                call_id=record.call_id,
                code=code,
                message=message,
            ),
        )

    # -- views ---------------------------------------------------------------------------

    def describe(self, record: SessionRecord) -> media_pb2.MediaSession:
        session = record.session
        legs = []
        for name in session.leg_names:
            leg = session.leg(name)
            audio = session.bridges["audio"].endpoints[name]
            remote = audio.rtp_destination
            video = session.bridges.get("video")
            legs.append(
                media_pb2.LegState(
                    name=name,
                    local_address=session.address,
                    local_rtp_port=audio.rtp_port,
                    local_rtcp_port=audio.rtcp_port,
                    remote_address=remote[0] if remote else "",
                    remote_rtp_port=remote[1] if remote else 0,
                    codec=leg.codec or "",
                    local_sdp=session.local_sdp(name).serialize(),
                    srtp=audio.srtp is not None,
                    local_video_port=video.endpoints[name].rtp_port if video else 0,
                )
            )
        wall = time.time() - self.plane.now()
        return media_pb2.MediaSession(
            session_id=record.session_id,
            legs=legs,
            lease_expires_unix_ms=int((record.lease_expires + wall) * 1000),
            transcoding=session.transcoding,
            fax=session.fax,
            owner=record.owner,
            call_id=record.call_id,
        )

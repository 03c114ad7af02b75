"""Media anchoring through the media service (gRPC MediaService).

A media session has exactly two legs: ``a`` faces the caller, ``b`` one device. A forked
call therefore allocates one session per branch, so the SDP offered to every device lists
that account's codecs in its order (ACC-22, ACC-24); once a branch answers, the other
sessions are released. The media service answers offers itself (the caller's INVITE, any
re-INVITE for hold, resume or codec change) and transcodes when the two legs share no
codec. A call is anchored unless both accounts allow direct media (ACC-14); a direct call
loses what needs the media path (ACC-15).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from centralino.v1 import config_pb2, media_pb2, media_pb2_grpc

log = logging.getLogger(__name__)

CALLER_LEG = "a"
DEVICE_LEG = "b"


class MediaError(RuntimeError):
    """The media service refused or could not be reached; the call cannot be anchored."""


def leg_spec(name: str, account: config_pb2.Account | None) -> media_pb2.LegSpec:
    """The leg facing ``account``'s device; a caller from outside (no account) gets the
    media service's defaults."""
    if account is None:
        return media_pb2.LegSpec(name=name)
    return media_pb2.LegSpec(
        name=name,
        nat=account.nat,
        srtp=account.srtp,
        codecs=list(account.audio_codecs),
        video_codecs=list(account.video_codecs),
    )


def needs_anchor(caller: config_pb2.Account | None, callees: Sequence[config_pb2.Account]) -> bool:
    """Direct media only when the caller and every device that may answer allow it. A call
    from outside has no caller account: until trunks carry their own media policy, the
    callees' setting decides."""
    caller_allows = caller is None or caller.direct_media
    return not (caller_allows and all(c.direct_media for c in callees))


def leg_sdp(session: media_pb2.MediaSession, leg: str) -> bytes:
    for state in session.legs:
        if state.name == leg:
            return state.local_sdp
    raise MediaError(f"media session {session.session_id} has no leg {leg!r}")


class MediaClient:
    def __init__(self, channel: grpc.aio.Channel, owner: str, lease_seconds: int) -> None:
        self.stub = media_pb2_grpc.MediaServiceStub(channel)
        self.owner = owner
        self.lease_seconds = lease_seconds

    async def allocate(
        self, call_id: str, tenant: str, legs: Sequence[media_pb2.LegSpec]
    ) -> media_pb2.MediaSession:
        req = media_pb2.AllocateRequest(
            call_id=call_id,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            legs=list(legs),
            tenant=tenant,
        )
        try:
            return await self.stub.Allocate(req, timeout=3)
        except grpc.aio.AioRpcError as exc:
            raise MediaError(f"media Allocate failed: {exc.code().name} {exc.details()}") from exc

    async def update(
        self, session_id: str, leg: str, sdp: bytes, *, is_offer: bool
    ) -> media_pb2.MediaSession:
        """Apply a device's SDP; for an offer, the answer is the leg's ``local_sdp``."""
        req = media_pb2.UpdateLegRequest(
            session_id=session_id, leg=leg, remote_sdp=sdp, remote_is_offer=is_offer
        )
        try:
            return await self.stub.UpdateLeg(req, timeout=3)
        except grpc.aio.AioRpcError as exc:
            raise MediaError(f"media UpdateLeg({leg}) failed: {exc.code().name}") from exc

    async def renew(self, session_id: str) -> bool:
        """Extend the session's lease; False when it is gone (released meanwhile)."""
        req = media_pb2.RenewRequest(session_id=session_id, lease_seconds=self.lease_seconds)
        try:
            await self.stub.Renew(req, timeout=3)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise MediaError(f"media Renew failed: {exc.code().name}") from exc
        return True

    async def release(self, session_id: str, reason: str) -> None:
        try:
            await self.stub.Release(
                media_pb2.ReleaseRequest(session_id=session_id, reason=reason), timeout=3
            )
        except grpc.aio.AioRpcError as exc:
            # the lease runs out on its own; a failed release only keeps ports a little longer
            log.warning("media Release of %s failed: %s", session_id, exc.code().name)

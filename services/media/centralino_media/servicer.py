"""The gRPC face of :class:`MediaController`: request validation errors become status codes."""

from __future__ import annotations

import grpc

from centralino.sdp import SdpError, SdpNegotiationError
from centralino.v1 import media_pb2, media_pb2_grpc
from centralino_media.codecs import CodecError
from centralino_media.controller import AllocationError, LicenceUnavailableError, MediaController
from centralino_media.ports import PortsExhaustedError
from centralino_media.registry import UnknownSessionError
from centralino_media.relay import SessionError


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, controller: MediaController) -> None:
        self.controller = controller

    async def Allocate(
        self, request: media_pb2.AllocateRequest, context: grpc.aio.ServicerContext
    ) -> media_pb2.MediaSession:
        try:
            record = await self.controller.allocate(request)
        except LicenceUnavailableError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except (AllocationError, SdpError, SessionError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except PortsExhaustedError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        return self.controller.describe(record)

    async def UpdateLeg(
        self, request: media_pb2.UpdateLegRequest, context: grpc.aio.ServicerContext
    ) -> media_pb2.MediaSession:
        try:
            record = await self.controller.update_leg(request)
        except UnknownSessionError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except SdpNegotiationError as exc:
            # The router answers 488 Not Acceptable Here.
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except (SdpError, SessionError, CodecError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self.controller.describe(record)

    async def Release(
        self, request: media_pb2.ReleaseRequest, context: grpc.aio.ServicerContext
    ) -> media_pb2.ReleaseReply:
        released = await self.controller.release(request.session_id, request.reason)
        return media_pb2.ReleaseReply(released=released)

    async def Renew(
        self, request: media_pb2.RenewRequest, context: grpc.aio.ServicerContext
    ) -> media_pb2.MediaSession:
        try:
            record = self.controller.renew(request.session_id, request.lease_seconds)
        except UnknownSessionError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return self.controller.describe(record)

    async def GetSession(
        self, request: media_pb2.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> media_pb2.MediaSession:
        try:
            record = self.controller.registry.get(request.session_id)
        except UnknownSessionError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return self.controller.describe(record)

"""gRPC LicensingService: a thin adapter from protobuf to the licensing components.

Refusals become a status code, the message, and the reason code in the trailing metadata
key ``centralino-reason``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from centralino.v1 import licensing_pb2 as pb
from centralino.v1 import licensing_pb2_grpc
from centralino_licensing.errors import FailedPrecondition, LicensingError
from centralino_licensing.g729 import ActivationView, G729Activations, download_name
from centralino_licensing.g729_steps import TERMS_TEXT, TERMS_VERSION, PersonalData
from centralino_licensing.licences import LicenceBook, Seat
from centralino_licensing.pool import ChannelPool, Lease
from centralino_licensing.products import Kind
from centralino_licensing.records import LicenceRecord, unix_ms
from centralino_licensing.retrieval import Offered, Retrieval, classify
from centralino_licensing.server_client import fetch_licences
from centralino_licensing.settings import LicensingSettings

REASON_KEY = "centralino-reason"
R = TypeVar("R")
Notify = Callable[[LicenceRecord, str], Awaitable[None]]


def refusals(
    method: Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except LicensingError as exc:
            await context.abort(exc.grpc_code, exc.message, ((REASON_KEY, exc.reason),))
            raise  # abort raises; this line only satisfies the type checker

    return wrapper


def licence_pb(record: LicenceRecord, now: float) -> pb.Licence:
    return pb.Licence(
        id=record.id,
        key=record.key,
        product=record.product,
        product_name=record.product_name,
        activated_unix_ms=unix_ms(record.activated_at),
        expires_unix_ms=unix_ms(record.expires_at),
        channels=record.channels,
        valid=record.valid(now),
    )


def g729_pb(record: LicenceRecord, now: float) -> pb.G729Licence:
    return pb.G729Licence(
        id=record.id,
        key=record.key,
        channels=record.channels,
        expires_unix_ms=unix_ms(record.expires_at),
        activated_unix_ms=unix_ms(record.activated_at),
        valid=record.valid(now),
        download_name=download_name(record),
    )


def activation_pb(view: ActivationView) -> pb.G729Activation:
    return pb.G729Activation(
        activation_id=view.id,
        next_step=view.next_step.value,
        key=view.key,
        channels=view.claims.channels,
        expires_unix_ms=unix_ms(view.claims.expires_at),
        terms_version=TERMS_VERSION,
        terms_text=TERMS_TEXT,
    )


def lease_pb(lease: Lease) -> pb.ChannelLease:
    return pb.ChannelLease(
        lease_id=lease.id, pool=lease.pool, expires_unix_ms=unix_ms(lease.expires_at)
    )


def offered_pb(offered: Offered) -> pb.ServerLicence:
    claims = offered.claims
    if claims is None:
        return pb.ServerLicence(key=offered.key, reason=offered.reason)
    return pb.ServerLicence(
        id=claims.id,
        key=offered.key,
        product=claims.product,
        channels=claims.channels,
        expires_unix_ms=unix_ms(claims.expires_at),
        reason=offered.reason,
    )


class LicensingServicer(licensing_pb2_grpc.LicensingServiceServicer):
    def __init__(
        self,
        settings: LicensingSettings,
        book: LicenceBook,
        pool: ChannelPool,
        g729: G729Activations,
        clock: Callable[[], float],
        notify: Notify,
    ) -> None:
        self.settings = settings
        self.book = book
        self.pool = pool
        self.g729 = g729
        self.clock = clock
        self.notify = notify

    @refusals
    async def CheckFeature(
        self, request: pb.CheckFeatureRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckFeatureResponse:
        check = await self.book.check_feature(
            request.product, request.tenant, request.user, self.clock()
        )
        return pb.CheckFeatureResponse(
            granted=check.granted, reason=check.reason, channels=check.channels
        )

    @refusals
    async def AcquireChannel(
        self, request: pb.AcquireChannelRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChannelLease:
        lease = await self.pool.acquire(
            request.pool, request.owner, request.session_id, request.ttl_seconds, self.clock()
        )
        return lease_pb(lease)

    @refusals
    async def RenewLease(
        self, request: pb.LeaseRef, context: grpc.aio.ServicerContext
    ) -> pb.ChannelLease:
        return lease_pb(await self.pool.renew(request.lease_id, request.ttl_seconds, self.clock()))

    @refusals
    async def ReleaseChannel(
        self, request: pb.LeaseRef, context: grpc.aio.ServicerContext
    ) -> pb.ReleaseResponse:
        return pb.ReleaseResponse(released=await self.pool.release(request.lease_id))

    @refusals
    async def PoolStatus(
        self, request: pb.PoolStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.PoolStatusResponse:
        status = await self.pool.status(request.pool or "g729", self.clock())
        return pb.PoolStatusResponse(total=status.total, in_use=status.in_use)

    @refusals
    async def ActivateLicence(
        self, request: pb.ActivateLicenceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Licence:
        now = self.clock()
        record = await self.book.activate(request.key, now)
        await self.notify(record, "activated")
        return licence_pb(record, now)

    @refusals
    async def ListLicences(
        self, request: pb.ListLicencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLicencesResponse:
        now = self.clock()
        records = await self.book.licences(Kind.PRODUCT)
        return pb.ListLicencesResponse(licences=[licence_pb(r, now) for r in records])

    @refusals
    async def RemoveLicence(
        self, request: pb.LicenceRef, context: grpc.aio.ServicerContext
    ) -> pb.RemoveLicenceResponse:
        record = await self.book.remove(request.id)
        await self.notify(record, "removed")
        return pb.RemoveLicenceResponse(removed=True)

    @refusals
    async def AssignLicence(
        self, request: pb.Assignment, context: grpc.aio.ServicerContext
    ) -> pb.Assignment:
        await self.book.assign(Seat(request.product, request.tenant, request.user), self.clock())
        return request

    @refusals
    async def UnassignLicence(
        self, request: pb.Assignment, context: grpc.aio.ServicerContext
    ) -> pb.UnassignResponse:
        removed = await self.book.unassign(Seat(request.product, request.tenant, request.user))
        return pb.UnassignResponse(removed=removed)

    @refusals
    async def ListAssignments(
        self, request: pb.ListAssignmentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAssignmentsResponse:
        seats = await self.book.seats(request.product)
        return pb.ListAssignmentsResponse(
            assignments=[
                pb.Assignment(product=s.product, tenant=s.tenant, user=s.user) for s in seats
            ]
        )

    @refusals
    async def ListG729Licences(
        self, request: pb.ListLicencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListG729LicencesResponse:
        now = self.clock()
        records = await self.book.licences(Kind.G729)
        return pb.ListG729LicencesResponse(licences=[g729_pb(r, now) for r in records])

    @refusals
    async def StartG729Activation(
        self, request: pb.StartG729ActivationRequest, context: grpc.aio.ServicerContext
    ) -> pb.G729Activation:
        return activation_pb(await self.g729.start(request.key, self.clock()))

    @refusals
    async def AcceptG729Terms(
        self, request: pb.AcceptG729TermsRequest, context: grpc.aio.ServicerContext
    ) -> pb.G729Activation:
        view = await self.g729.accept_terms(
            request.activation_id, request.accepted, request.terms_version, self.clock()
        )
        return activation_pb(view)

    @refusals
    async def SubmitG729PersonalData(
        self, request: pb.SubmitG729PersonalDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.G729Activation:
        data = request.personal_data
        personal = PersonalData(data.full_name, data.company, data.email, data.country)
        view = await self.g729.submit_personal_data(request.activation_id, personal, self.clock())
        return activation_pb(view)

    @refusals
    async def CompleteG729Activation(
        self, request: pb.G729ActivationRef, context: grpc.aio.ServicerContext
    ) -> pb.G729Licence:
        now = self.clock()
        record = await self.g729.complete(request.activation_id, now)
        await self.notify(record, "activated")
        return g729_pb(record, now)

    @refusals
    async def DownloadG729Licence(
        self, request: pb.LicenceRef, context: grpc.aio.ServicerContext
    ) -> pb.LicenceFile:
        document = await self.g729.licence_file(request.id)
        return pb.LicenceFile(
            filename=document.filename,
            content_type=document.content_type,
            content=document.content,
        )

    async def _retrieve(self, now: float) -> Retrieval:
        if not self.settings.server_url:
            raise FailedPrecondition(
                "no_server", "no licence server configured: set CENTRALINO_LICENCE_SERVER_URL"
            )
        entries = await fetch_licences(
            self.settings.server_url, self.settings.serial, self.settings.server_timeout
        )
        local = {r.id: r for kind in Kind for r in await self.book.licences(kind)}
        return classify(entries, local, self.settings.public_key, self.settings.serial, now)

    @refusals
    async def RetrieveFromServer(
        self, request: pb.RetrieveFromServerRequest, context: grpc.aio.ServicerContext
    ) -> pb.RetrieveFromServerResponse:
        found = await self._retrieve(self.clock())
        return pb.RetrieveFromServerResponse(
            serial=self.settings.serial,
            updated=[offered_pb(o) for o in found.updated],
            automatic=[offered_pb(o) for o in found.automatic],
            manual=[offered_pb(o) for o in found.manual],
            rejected=[offered_pb(o) for o in found.rejected],
        )

    @refusals
    async def ImportAutomatic(
        self, request: pb.RetrieveFromServerRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportAutomaticResponse:
        now = self.clock()
        found = await self._retrieve(now)
        reply = pb.ImportAutomaticResponse()
        for offered in found.automatic:
            try:
                record = await self.book.activate(offered.key, now)
            except LicensingError as exc:
                reply.failed.append(offered_pb(Offered(offered.key, offered.claims, exc.message)))
                continue
            await self.notify(record, "activated")
            reply.imported.append(licence_pb(record, now))
        return reply

"""G.729 channel licences from the licensing service (FEAT-03).

A session that may transcode G.729 holds one lease from the ``g729`` pool: a session has two
legs, so at most one of them is a G.729 transcoding leg. The lease is taken at allocation
(before G.729 is offered), renewed every half TTL while the session lives, and released when
it ends or is reaped. G.729 passed through unchanged (both legs G.729 only) needs no lease.
"""

from __future__ import annotations

import enum
import logging
from typing import Protocol

import grpc

from centralino.grpcserver import channel
from centralino.v1 import licensing_pb2, licensing_pb2_grpc

log = logging.getLogger(__name__)

POOL = "g729"
CALL_TIMEOUT = 2.0


class NoChannel(Exception):
    """No G.729 channel: the pool is empty or exhausted, or licensing cannot be asked."""


class Renewal(enum.Enum):
    RENEWED = "renewed"
    #: the licensing service no longer knows the lease (it expired): the channel is gone
    LOST = "lost"
    #: the licensing service could not be asked; the lease may still be valid
    UNCERTAIN = "uncertain"


class LicenceGate(Protocol):
    #: how often held leases must be renewed
    renew_seconds: float

    async def acquire(self, session_id: str) -> str:
        """A lease id; raises NoChannel."""

    async def renew(self, lease_id: str) -> Renewal: ...

    async def release(self, lease_id: str) -> None: ...


class GrpcLicenceGate:
    def __init__(self, address: str, owner: str, ttl_seconds: int = 60) -> None:
        self._channel = channel(address)
        self._stub = licensing_pb2_grpc.LicensingServiceStub(self._channel)
        self._owner = owner
        self.ttl_seconds = ttl_seconds
        # Half the TTL: one renewal may fail (licensing restarting) before the lease runs out.
        self.renew_seconds = ttl_seconds / 2

    async def acquire(self, session_id: str) -> str:
        try:
            lease = await self._stub.AcquireChannel(
                licensing_pb2.AcquireChannelRequest(
                    pool=POOL,
                    owner=self._owner,
                    session_id=session_id,
                    ttl_seconds=self.ttl_seconds,
                ),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise NoChannel(exc.details() or "the G.729 pool is exhausted") from None
            raise NoChannel(
                f"the licensing service could not grant a G.729 channel: {exc.code().name}"
            ) from None
        return str(lease.lease_id)

    async def renew(self, lease_id: str) -> Renewal:
        try:
            await self._stub.RenewLease(
                licensing_pb2.LeaseRef(lease_id=lease_id, ttl_seconds=self.ttl_seconds),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("G.729 lease renewal failed: %s %s", exc.code().name, exc.details())
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return Renewal.LOST
            return Renewal.UNCERTAIN
        return Renewal.RENEWED

    async def release(self, lease_id: str) -> None:
        try:
            await self._stub.ReleaseChannel(
                licensing_pb2.LeaseRef(lease_id=lease_id), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            # The lease expires on its own; losing the release only delays the channel's return.
            log.warning("G.729 release failed: %s", exc.code().name)

    async def close(self) -> None:
        await self._channel.close(grace=None)

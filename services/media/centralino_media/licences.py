"""G.729 channel licences from the licensing service (FEAT-03).

A G.729 leg may only run while a channel is held from the ``g729`` pool; the channel is
released when the session ends or is reaped, and renewed while the call lasts.
"""

from __future__ import annotations

import logging
from typing import Protocol

import grpc

from centralino.grpcserver import channel
from centralino.v1 import licensing_pb2, licensing_pb2_grpc

log = logging.getLogger(__name__)

POOL = "g729"


class LicenceGate(Protocol):
    async def acquire(self, session_id: str) -> str | None:
        """A lease id, or None when no channel is available (or licensing is down)."""

    async def renew(self, lease_id: str) -> bool: ...

    async def release(self, lease_id: str) -> None: ...


class GrpcLicenceGate:
    def __init__(self, address: str, owner: str, ttl_seconds: int = 120) -> None:
        self._channel = channel(address)
        self._stub = licensing_pb2_grpc.LicensingServiceStub(self._channel)
        self._owner = owner
        self.ttl_seconds = ttl_seconds

    async def acquire(self, session_id: str) -> str | None:
        try:
            lease = await self._stub.AcquireChannel(
                licensing_pb2.AcquireChannelRequest(
                    pool=POOL,
                    owner=self._owner,
                    session_id=session_id,
                    ttl_seconds=self.ttl_seconds,
                ),
                timeout=2.0,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "no G.729 channel: %s %s",
                exc.code().name,
                exc.details(),
                extra={"session_id": session_id},
            )
            return None
        return str(lease.lease_id)

    async def renew(self, lease_id: str) -> bool:
        try:
            await self._stub.RenewLease(
                licensing_pb2.LeaseRef(lease_id=lease_id, ttl_seconds=self.ttl_seconds),
                timeout=2.0,
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("G.729 lease renewal failed: %s", exc.code().name)
            return False
        return True

    async def release(self, lease_id: str) -> None:
        try:
            await self._stub.ReleaseChannel(licensing_pb2.LeaseRef(lease_id=lease_id), timeout=2.0)
        except grpc.aio.AioRpcError as exc:
            # The lease expires on its own; losing the release only delays the channel's return.
            log.warning("G.729 release failed: %s", exc.code().name)

    async def close(self) -> None:
        await self._channel.close(grace=None)

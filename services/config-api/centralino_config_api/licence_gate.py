"""Licence checks config-api makes before a licensed change, asked of the licensing service.

Only Multi-Tenant is enforced here (LIC-04: the first tenant is free, every further one needs
the licence). CTI Pro/Phone modes (USR-06, LIC-07) are granted by the licensing service's seat
assignments; config-api stores only ``cti_access`` and no per-user mode, so there is nothing of
its own to refuse.
"""

from __future__ import annotations

import grpc

from centralino.grpcserver import channel as grpc_channel
from centralino.v1 import licensing_pb2, licensing_pb2_grpc
from centralino_config_api.errors import LicenceRequired, LicensingUnavailable

MULTI_TENANT = "multi-tenant"
CALL_TIMEOUT = 5.0


class LicenceGate:
    """Asks ``CheckFeature`` at ``address`` and turns a refusal into a ConfigError."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: licensing_pb2_grpc.LicensingServiceStub | None = None

    def _connect(self) -> licensing_pb2_grpc.LicensingServiceStub:
        # Created on first use: a grpc.aio channel belongs to the running event loop.
        if self._stub is None:
            self._channel = grpc_channel(self.address)
            self._stub = licensing_pb2_grpc.LicensingServiceStub(self._channel)
        return self._stub

    async def require(self, product: str, tenant: str = "", user: str = "") -> None:
        """Return when ``product`` is licensed; raise LicenceRequired or LicensingUnavailable."""
        try:
            reply = await self._connect().CheckFeature(
                licensing_pb2.CheckFeatureRequest(product=product, tenant=tenant, user=user),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as exc:
            raise LicensingUnavailable(
                f"cannot check the {product} licence: the licensing service at {self.address} "
                f"answered {exc.code().name}: {exc.details() or 'no details'}"
            ) from None
        if not reply.granted:
            raise LicenceRequired(
                f"this needs a valid {product} licence ({reply.reason})", product=product
            )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = self._stub = None

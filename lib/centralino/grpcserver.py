"""gRPC plumbing: every server gets the standard health service, reflection and tracing."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import (
    aio_client_interceptors,
    aio_server_interceptor,
    filters,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class GrpcServer:
    """An asyncio gRPC server with health and reflection already registered.

    Services add their servicers to :attr:`server` and list their full service names in
    :meth:`start` so reflection and health report them.
    """

    def __init__(self, listen: str) -> None:
        self.listen = listen
        # Health and reflection are plumbing, not traced; the tracing interceptor also
        # cannot wrap the health servicer's Watch (it writes to the context, not a generator).
        untraced = filters.any_of(
            filters.service_prefix("grpc.health."), filters.service_prefix("grpc.reflection.")
        )
        # No SO_REUSEPORT: a second process on the same port must fail loudly, not share it.
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(filter_=filters.negate(untraced))],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = []
        self.port = 0

    async def start(self, service_names: Iterable[str] = ()) -> int:
        self.service_names = list(service_names)
        names = [
            *self.service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        reflection.enable_server_reflection(names, self.server)
        self.port = self.server.add_insecure_port(self.listen)
        if self.port == 0:
            raise OSError(f"cannot listen for gRPC on {self.listen}")
        await self.server.start()
        await self.set_serving(True)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = SERVING if serving else NOT_SERVING
        await self.health.set("", status)
        for name in self.service_names:
            await self.health.set(name, status)

    async def stop(self, grace: float = 2.0) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)


def channel(address: str) -> grpc.aio.Channel:
    """A client channel that propagates the trace context in metadata."""
    return grpc.aio.insecure_channel(address, interceptors=aio_client_interceptors())


async def check_health(address: str, service: str = "", timeout: float = 2.0) -> bool:
    """True when the server at ``address`` answers SERVING for ``service``."""
    async with grpc.aio.insecure_channel(address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == SERVING)

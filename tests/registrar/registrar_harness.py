"""A real PBX edge for the registrar tests: config-api (PostgreSQL) + registrar on NATS.

Both services run in-process the way ``centralino.service.serve`` runs them (bus, gRPC
server, ``start``/``stop``) but started step by step, so a test knows they are ready when
the fixture returns: no polling. Accounts are created through config-api's own core, so
the registrar reads them over real gRPC and hears real config events.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registrar_phone import RouterPeer

from centralino.bus import Bus
from centralino.grpcserver import GrpcServer
from centralino.runner.embedded import free_port
from centralino.runner.tls import ensure_self_signed
from centralino.service import ServiceContext
from centralino.settings import CommonSettings
from centralino.sip.transport import TransportKind
from centralino_config_api import tenants
from centralino_config_api.service import ConfigApiService
from centralino_registrar.service import RegistrarService


@contextlib.asynccontextmanager
async def running(service_cls: Any, name: str, env: Mapping[str, str]) -> AsyncIterator[Any]:
    settings = CommonSettings.from_env(name, dict(env))
    bus = await Bus.connect(settings.nats_url, f"{name}/{settings.instance_id}")
    grpc_server = GrpcServer(settings.grpc_listen)
    ctx = ServiceContext(settings=settings, bus=bus, grpc=grpc_server)
    service = service_cls(settings)
    try:
        await bus.ensure_events_stream()
        await service.start(ctx)
        try:
            await grpc_server.start(service.grpc_services)
            yield service
        finally:
            await grpc_server.stop(grace=0.1)
            await service.stop()
    finally:
        await bus.close()


@dataclass
class Pbx:
    config: ConfigApiService
    registrar: RegistrarService
    env: dict[str, str]
    router: tuple[str, int]
    router_socket: socket.socket
    passwords: dict[str, str] = field(default_factory=dict)
    tenant: str = "t1"

    def sip(self, kind: TransportKind = TransportKind.UDP) -> tuple[str, int]:
        return self.registrar.listeners[kind]

    async def router_peer(self) -> RouterPeer:
        """The test's stand-in for the router, on the router's address (once per test)."""
        return await RouterPeer(self.router, self.internal).open(self.router_socket)

    @property
    def internal(self) -> tuple[str, int]:
        return self.registrar.internal_address

    async def add_account(self, username: str, password: str | None = None, **settings: Any) -> str:
        """An extension ``username`` with one SIP account of the same name."""
        password = password or secrets.token_hex(8)
        core = self.config.core
        assert core is not None
        async with core.tx() as conn:
            await core.extensions.create(
                conn,
                self.tenant,
                {
                    "number": username,
                    "first_name": "Test",
                    "last_name": username,
                },
            )
            body: dict[str, Any] = {
                "username": username,
                "password": password,
                "extension": username,
            }
            if settings:
                body["settings"] = settings
            await core.accounts.create(conn, self.tenant, body)
        self.passwords[username] = password
        return password

    async def update_account(self, username: str, body: dict[str, Any]) -> None:
        core = self.config.core
        assert core is not None
        async with core.tx() as conn:
            await core.accounts.update(conn, self.tenant, username, body, None)


def registrar_env(
    nats_url: str, config_grpc: str, router: tuple[str, int], **extra: str
) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "CENTRALINO_CONFIG_GRPC": config_grpc,
        "CENTRALINO_REGISTRAR_GRPC": f"127.0.0.1:{free_port()}",
        "CENTRALINO_SIP_HOST": "127.0.0.1",
        "CENTRALINO_SIP_ADVERTISED_HOST": "127.0.0.1",
        "CENTRALINO_SIP_UDP_PORT": "0",
        "CENTRALINO_SIP_TCP_PORT": "0",
        "CENTRALINO_SIP_TLS_PORT": "-1",
        "CENTRALINO_SIP_WS_PORT": "0",
        "CENTRALINO_SIP_WSS_PORT": "-1",
        "CENTRALINO_REGISTRAR_INTERNAL_SIP": "127.0.0.1:0",
        "CENTRALINO_ROUTER_SIP": f"{router[0]}:{router[1]}",
        "CENTRALINO_HEARTBEAT_SECONDS": "60",
        "CENTRALINO_LOG_FORMAT": "text",
        **extra,
    }


@contextlib.asynccontextmanager
async def pbx_edge(nats_url: str, database_url: str, **registrar_extra: str) -> AsyncIterator[Pbx]:
    config_grpc = f"127.0.0.1:{free_port()}"
    config_env = {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "CENTRALINO_SECRET_KEY": "registrar-tests-secret-key-0123456789",
        "CENTRALINO_ADMIN_PASSWORD": "admin-password-for-tests",
        "CENTRALINO_API_LISTEN": "127.0.0.1:0",
        "CENTRALINO_CONFIG_GRPC": config_grpc,
        "CENTRALINO_HEARTBEAT_SECONDS": "60",
    }
    # the router's port is bound now, before the registrar asks for free ports of its own
    router_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    router_socket.bind(("127.0.0.1", 0))
    router = router_socket.getsockname()
    tls_dir = tempfile.TemporaryDirectory(prefix="registrar-tls-")
    cert, key = Path(tls_dir.name) / "cert.pem", Path(tls_dir.name) / "key.pem"
    ensure_self_signed(cert, key, ["127.0.0.1", "localhost"])
    tls = {
        "CENTRALINO_TLS_CERT": str(cert),
        "CENTRALINO_TLS_KEY": str(key),
        "CENTRALINO_SIP_TLS_PORT": "0",
        "CENTRALINO_SIP_WSS_PORT": "0",
    }
    env = registrar_env(nats_url, config_grpc, router, **{**tls, **registrar_extra})
    async with running(ConfigApiService, "config-api", config_env) as config:
        assert config.core is not None
        async with config.core.tx() as conn:
            await tenants.ensure(conn, "t1", "T1")
        async with running(RegistrarService, "registrar", env) as registrar:
            yield Pbx(config, registrar, env, router, router_socket)
    router_socket.close()
    tls_dir.cleanup()


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().int % 10**8}"

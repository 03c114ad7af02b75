"""The registrar service process: wires its components to the shared runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time

from nats.js.errors import KeyWrongLastSequenceError

from centralino.bus import Bus
from centralino.grpcserver import channel
from centralino.service import ServiceContext
from centralino.settings import CommonSettings, SettingsError
from centralino.sip.transport import (
    Flow,
    Listener,
    TransportKind,
    TransportManager,
    server_context,
)
from centralino.v1 import config_pb2_grpc, registrar_pb2
from centralino_registrar.accounts import AccountDirectory
from centralino_registrar.auth import Authenticator
from centralino_registrar.binding import EVENT_EXPIRED
from centralino_registrar.defence import SourceGuard
from centralino_registrar.edge import Edge, EdgeAddresses
from centralino_registrar.events import Announcer
from centralino_registrar.locations import BUCKET, ExpiryReaper, LocationStore
from centralino_registrar.proxy import Hop
from centralino_registrar.settings import RegistrarSettings

log = logging.getLogger(__name__)

SECRETS_BUCKET = "registrar_secrets"
NONCE_KEY = "nonce"


async def shared_nonce_secret(bus: Bus, configured: str) -> bytes:
    """The digest nonce key every replica must share: from the environment if set, else
    created once in KV by whichever replica starts first and read by the others."""
    if configured:
        return configured.encode()
    kv = await bus.kv(SECRETS_BUCKET)
    with contextlib.suppress(KeyWrongLastSequenceError):
        await kv.create(NONCE_KEY, secrets.token_bytes(32))
    entry = await kv.get(NONCE_KEY)
    assert entry.value is not None
    return bytes(entry.value)


async def _listen(
    manager: TransportManager,
    kind: TransportKind,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    variable: str,
) -> Listener:
    try:
        return await manager.listen(kind, host, port, tls)
    except OSError as exc:
        raise SettingsError(
            variable, f"cannot listen on {kind.via_token} {host}:{port}: {exc.strerror}"
        ) from exc


class RegistrarService:
    grpc_services: list[str] = []

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.config = RegistrarSettings.from_env(settings.environ)
        self.edge: Edge | None = None
        #: where each public transport really listens (ports asked as 0 are filled in)
        self.listeners: dict[TransportKind, tuple[str, int]] = {}
        self.internal_address: tuple[str, int] = self.config.internal
        self._phones: TransportManager | None = None
        self._internal: TransportManager | None = None
        self._reaper: ExpiryReaper | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        cfg = self.config
        store = LocationStore(await ctx.bus.kv(BUCKET))
        self._channel = channel(self.settings.grpc_address("config-api"))
        directory = AccountDirectory(config_pb2_grpc.ConfigServiceStub(self._channel))
        await directory.subscribe(ctx.bus)
        guard = SourceGuard(cfg.defence)
        secret = await shared_nonce_secret(ctx.bus, cfg.nonce_secret)
        authenticator = Authenticator(
            secret, guard, cfg.default_realm, cfg.nonce_lifetime, cfg.md5_only_agents
        )
        announcer = Announcer(ctx)

        self._internal = internal = TransportManager(self._from_internal)
        host, port = cfg.internal
        udp = await _listen(
            internal, TransportKind.UDP, host, port, None, "CENTRALINO_REGISTRAR_INTERNAL_SIP"
        )
        if port:  # a fixed port also takes TCP (0 = tests: any free UDP port will do)
            await _listen(
                internal,
                TransportKind.TCP,
                host,
                udp.local[1],
                None,
                "CENTRALINO_REGISTRAR_INTERNAL_SIP",
            )
        self.internal_address = udp.local

        self._phones = phones = TransportManager(self._from_phone, on_flow_closed=self._flow_closed)
        tls = server_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else None
        ports: dict[TransportKind, int] = {}
        for kind in TransportKind:
            wanted = cfg.ports[kind]
            if wanted < 0:
                continue
            if kind.secure and tls is None:
                log.warning(
                    "%s disabled: set CENTRALINO_TLS_CERT and CENTRALINO_TLS_KEY", kind.via_token
                )
                continue
            listener = await _listen(
                phones,
                kind,
                cfg.sip_host,
                wanted,
                tls if kind.secure else None,
                f"CENTRALINO_SIP_{kind.value.upper()}_PORT",
            )
            ports[kind] = listener.local[1]
            self.listeners[kind] = listener.local

        addresses = EdgeAddresses(
            public_host=cfg.advertised_host,
            public_ports=ports,
            internal=Hop(TransportKind.UDP, udp.local[0], udp.local[1]),
            router=cfg.router,
        )
        edge = Edge(
            addresses=addresses,
            instance=self.settings.instance_id,
            directory=directory,
            store=store,
            authenticator=authenticator,
            guard=guard,
            announcer=announcer,
        )
        edge.attach(phones, internal)
        self.edge = edge

        async def on_expired(username: str, location: registrar_pb2.Location) -> None:
            edge.nat_bindings.pop(username, None)
            await announcer.location(EVENT_EXPIRED, location)

        self._reaper = ExpiryReaper(store, on_expired, time.time)
        await self._reaper.start()
        store.mirror = self._reaper.values
        if cfg.keepalive_seconds > 0:
            self._keepalive = asyncio.create_task(self._keep_alive(cfg.keepalive_seconds))
        log.info(
            "registrar listening",
            extra={
                "sip": {k.value: f"{h}:{p}" for k, (h, p) in self.listeners.items()},
                "internal": f"{udp.local[0]}:{udp.local[1]}",
            },
        )

    def _from_phone(self, data: bytes, flow: Flow) -> None:
        if self.edge is not None:  # listeners open a moment before the edge exists
            self.edge.on_phone_message(data, flow)

    def _flow_closed(self, flow: Flow, reason: str) -> None:
        if self.edge is not None:
            self.edge.on_flow_closed(flow, reason)

    def _from_internal(self, data: bytes, flow: Flow) -> None:
        if self.edge is not None:
            self.edge.on_internal_message(data, flow)

    async def _keep_alive(self, period: float) -> None:
        assert self.edge is not None
        while True:
            await asyncio.sleep(period)
            await self.edge.keepalive_nat_bindings()

    async def stop(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self._reaper is not None:
            await self._reaper.stop()
        for manager in (self._phones, self._internal):
            if manager is not None:
                await manager.close()
        if self.edge is not None:
            await self.edge.drain()
        if hasattr(self, "_channel"):
            await self._channel.close(None)

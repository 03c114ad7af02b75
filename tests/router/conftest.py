"""The router end to end: a real config-api (REST + gRPC on PostgreSQL), the session's NATS,
the router service, and SIPp as callers and devices.

The SIP edge is played by the tests themselves: callers send to the router's internal
listener with the identity headers the registrar would add, and each device's stored
location names its own SIPp instance as the registrar holding its flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest

from centralino.bus import Bus, heartbeat_subject
from centralino.runner.embedded import EmbeddedPostgres, free_port
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, registrar_pb2, router_pb2
from centralino_config_api.service import ConfigApiService
from centralino_media.service import MediaService
from centralino_router.lookups import LOCATIONS_BUCKET
from centralino_router.service import RouterService

from .sipp import Sipp

ADMIN_PASSWORD = "admin-pass-123"


async def _serve(service: Any, settings: CommonSettings, bus: Bus) -> asyncio.Task[None]:
    """Start ``service`` and return once it reports SERVING."""
    up = asyncio.Event()

    async def on_beat(_: str, beat: common_pb2.ServiceHeartbeat) -> None:
        if beat.instance == settings.instance_id:
            up.set()

    sub = await bus.subscribe(
        heartbeat_subject(settings.service), common_pb2.ServiceHeartbeat, on_beat
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(service, settings, stop))
    task.stop = stop  # type: ignore[attr-defined]
    waiter = asyncio.ensure_future(up.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    await sub.unsubscribe()
    if task in done:
        task.result()
    assert up.is_set(), f"{settings.service} did not report SERVING"
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.stop.set()  # type: ignore[attr-defined]
    await asyncio.wait_for(task, 30)


@dataclass
class ConfigApi:
    base: str
    http: aiohttp.ClientSession
    token: str
    grpc_address: str

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(
            self.base + path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        ) as resp:
            data = await resp.json()
            assert resp.status == 201, (path, resp.status, data)
            return data  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def router_db(postgres_server: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"router_{uuid.uuid4().hex[:10]}"
    base = postgres_server.url.rsplit("/", 1)[0]
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield f"{base}/{name}"
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_url, "router-tests")
    yield b
    await b.close()


def _env(database_url: str, nats_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
        "CENTRALINO_LOG_FORMAT": "text",
        "CENTRALINO_LOG_LEVEL": "INFO",
        "CENTRALINO_HEARTBEAT_SECONDS": "30",
        **extra,
    }


@pytest.fixture(scope="module")
async def config_api(router_db: str, nats_url: str, bus: Bus) -> AsyncIterator[ConfigApi]:
    env = _env(
        router_db,
        nats_url,
        CENTRALINO_API_LISTEN="127.0.0.1:0",
        CENTRALINO_SECRET_KEY="router-tests-secret-0123456789abcdef",
        CENTRALINO_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    settings = CommonSettings.from_env("config-api", env)
    service = ConfigApiService(settings)
    task = await _serve(service, settings, bus)
    try:
        assert service.ctx is not None
        base = f"http://127.0.0.1:{service.api_port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                base + "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ) as r:
                token = (await r.json())["token"]
            yield ConfigApi(base, http, token, f"127.0.0.1:{service.ctx.grpc.port}")
    finally:
        await _stop(task)


@dataclass
class Router:
    service: RouterService
    address: str


@contextlib.asynccontextmanager
async def serve_router(
    config_api: ConfigApi, router_db: str, nats_url: str, bus: Bus, **extra: str
) -> AsyncIterator[Router]:
    """A router service without a media service: accounts allow direct media unless a
    test says otherwise, and then the failure to anchor is what it checks."""
    env = _env(
        router_db,
        nats_url,
        CENTRALINO_CONFIG_GRPC=config_api.grpc_address,
        CENTRALINO_ROUTER_SIP="127.0.0.1:0",
        CENTRALINO_MEDIA_GRPC="127.0.0.1:1",
        **extra,
    )
    settings = CommonSettings.from_env("router", env)
    service = RouterService(settings)
    task = await _serve(service, settings, bus)
    try:
        yield Router(service, f"127.0.0.1:{service.sip_port}")
    finally:
        await _stop(task)


@pytest.fixture(scope="module")
async def router(
    config_api: ConfigApi, router_db: str, nats_url: str, bus: Bus
) -> AsyncIterator[Router]:
    async with serve_router(config_api, router_db, nats_url, bus) as running:
        yield running


#: the media service's RTP ports in these tests (inside the router's 36000-36999 range)
MEDIA_RTP = (36600, 36799)


@pytest.fixture(scope="module")
async def anchored_router(
    config_api: ConfigApi, router_db: str, nats_url: str, bus: Bus
) -> AsyncIterator[Router]:
    """A router anchoring calls through a real media service."""
    media_grpc = f"127.0.0.1:{free_port()}"
    media_env = _env(
        router_db,
        nats_url,
        CENTRALINO_GRPC_LISTEN=media_grpc,
        CENTRALINO_MEDIA_BIND="127.0.0.1",
        CENTRALINO_RTP_PORT_MIN=str(MEDIA_RTP[0]),
        CENTRALINO_RTP_PORT_MAX=str(MEDIA_RTP[1]),
        CENTRALINO_MEDIA_INACTIVITY_SECONDS="2",
    )
    media_settings = CommonSettings.from_env("media", media_env)
    media_task = await _serve(MediaService(media_settings), media_settings, bus)
    try:
        env = _env(
            router_db,
            nats_url,
            CENTRALINO_CONFIG_GRPC=config_api.grpc_address,
            CENTRALINO_MEDIA_GRPC=media_grpc,
            CENTRALINO_ROUTER_SIP="127.0.0.1:0",
        )
        settings = CommonSettings.from_env("router", env)
        service = RouterService(settings)
        task = await _serve(service, settings, bus)
        try:
            yield Router(service, f"127.0.0.1:{service.sip_port}")
        finally:
            await _stop(task)
    finally:
        await _stop(media_task)


@dataclass
class CallEvents:
    """Every CallEvent of one tenant, by call id, with a way to wait for one."""

    by_call: dict[str, list[router_pb2.CallEvent]] = field(
        default_factory=lambda: defaultdict(list)
    )
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, _subject: str, event: router_pb2.CallEvent) -> None:
        async with self.changed:
            self.by_call[event.call_id].append(event)
            self.changed.notify_all()

    async def ended(self, count: int = 1, timeout: float = 15) -> list[router_pb2.CallEvent]:
        """Wait until ``count`` calls have ended; their ``ended`` events."""

        def done() -> list[router_pb2.CallEvent]:
            return [e for evs in self.by_call.values() for e in evs if e.event == "ended"]

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(done()) >= count), timeout)
        return done()

    def names(self, call_id: str) -> list[str]:
        return [e.event for e in self.by_call[call_id]]


class Tenant:
    """A fresh tenant with helpers to create extensions and accounts and register them."""

    def __init__(self, api: ConfigApi, bus: Bus, name: str) -> None:
        self.api = api
        self.bus = bus
        self.name = name
        self.events = CallEvents()

    async def extension(
        self, number: str, settings: dict[str, Any] | None = None, **props: Any
    ) -> None:
        body: dict[str, Any] = {
            "number": number,
            "first_name": props.pop("first_name", "Ext"),
            "last_name": props.pop("last_name", number),
            **props,
        }
        if settings:
            body["settings"] = settings
        await self.api.post(f"/api/v1/tenants/{self.name}/extensions", body)

    def user(self, label: str) -> str:
        return f"{label}{self.name[-6:]}"

    async def account(
        self,
        label: str,
        extension: str,
        *,
        direct_media: bool = True,
        enabled: bool = True,
        codecs: list[str] | None = None,
    ) -> str:
        username = self.user(label)
        settings: dict[str, Any] = {"direct_media": direct_media}
        if codecs:
            settings["audio_codecs"] = codecs
        await self.api.post(
            f"/api/v1/tenants/{self.name}/accounts",
            {
                "username": username,
                "password": "Secret12345",
                "extension": extension,
                "enabled": enabled,
                "settings": settings,
            },
        )
        return username

    async def register(self, username: str, at: str, expires_in: float = 300) -> None:
        """Store the location the registrar would: the device is reached through ``at``."""
        kv = await self.bus.kv(LOCATIONS_BUCKET)
        loc = registrar_pb2.Location(
            tenant=self.name,
            username=username,
            contact=f"sip:{username}@{at}",
            expires_unix_ms=int((time.time() + expires_in) * 1000),
            registrar_sip=at,
            registered_unix_ms=int(time.time() * 1000),
        )
        await kv.put(username, loc.SerializeToString())


@pytest.fixture(autouse=True)
async def _reap_sipp() -> AsyncIterator[None]:
    yield
    for proc in list(Sipp.running):
        await proc.stop()


@pytest.fixture
async def tenant(config_api: ConfigApi, bus: Bus) -> AsyncIterator[Tenant]:
    name = f"t{uuid.uuid4().hex[:10]}"
    await config_api.post("/api/v1/tenants", {"id": name, "name": name})
    t = Tenant(config_api, bus, name)
    sub = await bus.subscribe(f"centralino.{name}.call.>", router_pb2.CallEvent, t.events.add)
    yield t
    await sub.unsubscribe()


class SilentDevice(asyncio.DatagramProtocol):
    """A registered address where nothing answers: proves a device was never sent a thing."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)

    @property
    def address(self) -> str:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return f"{host}:{port}"


@pytest.fixture
async def silent() -> AsyncIterator[SilentDevice]:
    loop = asyncio.get_running_loop()
    transport, device = await loop.create_datagram_endpoint(
        SilentDevice, local_addr=("127.0.0.1", 0)
    )
    yield device
    transport.close()

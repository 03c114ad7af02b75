"""A real config-api (REST + gRPC + outbox) on a fresh database and the session's NATS."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import grpc
import nats
import pytest
from licensing.conftest import start_licensing  # noqa: F401  (fixture: the real licensing service)
from nats.js.api import ConsumerConfig, DeliverPolicy

from centralino.bus import Bus, heartbeat_subject
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, config_pb2, config_pb2_grpc
from centralino_config_api.service import ConfigApiService

ADMIN_PASSWORD = "admin-pass-123"
SECRET_KEY = "test-secret-key-0123456789abcdef"


@dataclass
class Running:
    service: ConfigApiService
    base: str
    grpc_address: str
    http: aiohttp.ClientSession
    stub: config_pb2_grpc.ConfigServiceStub
    admin_token: str
    database_url: str
    nats_url: str

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        if_match: str | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        h = self.auth(token)
        if if_match is not None:
            h["If-Match"] = if_match
        h.update(headers or {})
        async with self.http.request(
            method, self.base + path, json=json, data=data, headers=h
        ) as resp:
            body = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            parsed = await resp.json() if body and "json" in ctype else body.decode()
            return resp.status, parsed, resp.headers

    async def login(self, username: str, password: str) -> str:
        async with self.http.post(
            self.base + "/api/v1/auth/login", json={"username": username, "password": password}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])


def service_env(database_url: str, nats_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
        "CENTRALINO_API_LISTEN": "127.0.0.1:0",
        "CENTRALINO_SECRET_KEY": SECRET_KEY,
        "CENTRALINO_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CENTRALINO_LOG_FORMAT": "text",
        "CENTRALINO_HEARTBEAT_SECONDS": "30",
        **extra,
    }


@contextlib.asynccontextmanager
async def running_service(database_url: str, nats_url: str, **extra: str) -> AsyncIterator[Running]:
    settings = CommonSettings.from_env("config-api", service_env(database_url, nats_url, **extra))
    service = ConfigApiService(settings)
    stop = asyncio.Event()
    watcher = await Bus.connect(nats_url, "config-api-test-watcher")
    up = asyncio.Event()

    async def on_beat(_: str, beat: common_pb2.ServiceHeartbeat) -> None:
        if beat.instance == settings.instance_id:
            up.set()

    await watcher.subscribe(heartbeat_subject("config-api"), common_pb2.ServiceHeartbeat, on_beat)
    task = asyncio.create_task(serve(service, settings, stop))
    try:
        done, _ = await asyncio.wait(
            {task, asyncio.ensure_future(up.wait())},
            timeout=30,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if task in done:
            task.result()
        assert up.is_set(), "config-api did not report SERVING"
        assert service.ctx is not None
        grpc_address = f"127.0.0.1:{service.ctx.grpc.port}"
        async with aiohttp.ClientSession() as http, grpc.aio.insecure_channel(grpc_address) as ch:
            base = f"http://127.0.0.1:{service.api_port}"
            async with http.post(
                base + "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
            ) as r:
                token = (await r.json())["token"]
            yield Running(
                service,
                base,
                grpc_address,
                http,
                config_pb2_grpc.ConfigServiceStub(ch),
                token,
                database_url,
                nats_url,
            )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await watcher.close()


@pytest.fixture
async def api(database_url: str, nats_url: str) -> AsyncIterator[Running]:
    async with running_service(database_url, nats_url) as r:
        yield r


@pytest.fixture
async def tenant(api: Running) -> str:
    status, body, _ = await api.call("POST", "/api/v1/tenants", json={"id": "acme", "name": "Acme"})
    assert status == 201, body
    return "acme"


@pytest.fixture(scope="module")
async def module_database_url(postgres_server: Any) -> AsyncIterator[str]:
    """One database for a module whose tests each use their own tenant (faster than a
    service per test; tests that change PBX-wide settings use ``api`` instead)."""
    name = f"m_{uuid.uuid4().hex[:12]}"
    root = postgres_server.url.rsplit("/", 1)[0]
    conn = await asyncpg.connect(root + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield f"{root}/{name}"
    conn = await asyncpg.connect(root + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def shared(module_database_url: str, nats_url: str) -> AsyncIterator[Running]:
    async with running_service(module_database_url, nats_url) as r:
        yield r


@pytest.fixture
async def own_tenant(shared: Running) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    status, body, _ = await shared.call("POST", "/api/v1/tenants", json={"id": name, "name": name})
    assert status == 201, body
    return name


async def config_events(url: str, subject: str, want: int) -> list[config_pb2.ConfigChanged]:
    """The first ``want`` ConfigChanged events on ``subject``, read from JetStream."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().subscribe(
            subject, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        out = []
        while len(out) < want:
            msg = await sub.next_msg(timeout=15)
            out.append(config_pb2.ConfigChanged.FromString(msg.data))
        return out
    finally:
        await nc.close()

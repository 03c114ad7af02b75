"""Licensing test fixtures: real vendor keys, and the service run in-process on real NATS and
PostgreSQL.

``dev_private_key.pem`` is the private half of the development public key the service ships
(``centralino_licensing/dev_public_key.pem``); it lives only here and in the vendor tool's
docs, never in the service package.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.msg import Msg

from centralino.bus import heartbeat_subject
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, licensing_pb2_grpc
from centralino_licensing.keys import LicenceClaims, sign_key
from centralino_licensing.service import LicensingService

HERE = Path(__file__).resolve().parent
SERIAL = "PBX-TEST-0001"
DAY = 24 * 3600


def vendor_key() -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(
        (HERE / "dev_private_key.pem").read_bytes(), password=None
    )
    assert isinstance(key, Ed25519PrivateKey)
    return key


def mint(
    product: str = "cti-pro",
    *,
    channels: int = 2,
    serial: str = SERIAL,
    licence_id: str | None = None,
    issued_at: float | None = None,
    valid_from: float | None = None,
    expires_at: float | None = None,
    lifetime: float | None = 365 * DAY,
    key: Ed25519PrivateKey | None = None,
) -> str:
    """A real signed key; by default valid from an hour ago for a year."""
    now = time.time()
    claims = LicenceClaims(
        id=licence_id or f"LIC-{uuid.uuid4().hex[:10].upper()}",
        product=product,
        channels=channels,
        serial=serial,
        issued_at=int(issued_at if issued_at is not None else now - 3600),
        valid_from=int(valid_from if valid_from is not None else now - 3600),
        expires_at=int(expires_at)
        if expires_at is not None
        else (None if lifetime is None else int(now + lifetime)),
    )
    return sign_key(claims, key or vendor_key())


@dataclass
class Clock:
    """A settable clock the service reads instead of the wall clock."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    service: LicensingService
    address: str
    channel: grpc.aio.Channel
    stub: licensing_pb2_grpc.LicensingServiceStub
    stop: asyncio.Event
    task: asyncio.Task[None]


Start = Callable[..., Awaitable[Running]]
Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def start_licensing(nats_url: str, database_url: str) -> AsyncIterator[Start]:
    """Start licensing replicas (same database) in-process; each answers once SERVING."""
    running: list[Running] = []
    nc = await nats.connect(nats_url)

    async def start(clock: Callable[[], float] = time.time, **env: str) -> Running:
        instance = f"licensing-test-{uuid.uuid4().hex[:8]}"
        environ = {
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "CENTRALINO_SERIAL": SERIAL,
            "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
            "CENTRALINO_INSTANCE_ID": instance,
            "CENTRALINO_HEARTBEAT_SECONDS": "30",
            **env,
        }
        settings = CommonSettings.from_env("licensing", environ)
        service = LicensingService(settings, clock=clock)
        serving: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def on_beat(msg: Msg) -> None:
            beat = common_pb2.ServiceHeartbeat.FromString(msg.data)
            if beat.instance == instance and not serving.done():
                serving.set_result(beat.grpc_address)

        sub = await nc.subscribe(heartbeat_subject("licensing"), cb=on_beat)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(service, settings, stop))
        waiting: list[asyncio.Future[Any]] = [serving, task]
        done, _ = await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        await sub.unsubscribe()
        if task in done:
            task.result()  # raises the start-up error
        if not serving.done():
            raise TimeoutError("the licensing service did not report SERVING within 20 s")
        address = serving.result()
        channel = grpc.aio.insecure_channel(address)
        replica = Running(
            service, address, channel, licensing_pb2_grpc.LicensingServiceStub(channel), stop, task
        )
        running.append(replica)
        return replica

    yield start
    for replica in running:
        await replica.channel.close(grace=None)
        replica.stop.set()
    for replica in running:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(replica.task, 10)
    await nc.close()


@pytest.fixture
async def licensing(start_licensing: Start) -> Running:
    return await start_licensing()


@pytest.fixture
async def http_server() -> AsyncIterator[Serve]:
    """Serve aiohttp apps on loopback; yields a function returning each app's base URL."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


def reason_of(error: grpc.aio.AioRpcError) -> str:
    # grpc.aio yields (key, value) pairs; the stubs type them as a metadatum class.
    metadata: Iterable[tuple[str, str | bytes]] = error.trailing_metadata() or ()  # type: ignore[assignment]
    return next((str(v) for k, v in metadata if k == "centralino-reason"), "")


PERSON = {
    "full_name": "Ada Lovelace",
    "company": "Analytical Ltd",
    "email": "ada@example.org",
    "country": "gb",
}


async def activate_g729(stub: licensing_pb2_grpc.LicensingServiceStub, key: str) -> str:
    """The three G729-02 steps then Activate (G729-03); returns the licence id."""
    from centralino.v1 import licensing_pb2 as pb

    started = await stub.StartG729Activation(pb.StartG729ActivationRequest(key=key))
    await stub.AcceptG729Terms(
        pb.AcceptG729TermsRequest(
            activation_id=started.activation_id,
            accepted=True,
            terms_version=started.terms_version,
        )
    )
    await stub.SubmitG729PersonalData(
        pb.SubmitG729PersonalDataRequest(
            activation_id=started.activation_id, personal_data=pb.PersonalData(**PERSON)
        )
    )
    licence = await stub.CompleteG729Activation(
        pb.G729ActivationRef(activation_id=started.activation_id)
    )
    return str(licence.id)

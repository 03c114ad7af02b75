"""The ``centralino-licensing`` entry point as a real process: starts, serves, stops on
SIGTERM, and refuses to start with a clear message when misconfigured."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

import grpc
import nats
from nats.aio.msg import Msg

from centralino.bus import heartbeat_subject
from centralino.v1 import common_pb2, licensing_pb2_grpc
from centralino.v1 import licensing_pb2 as pb

from .conftest import SERIAL, mint


def service_env(nats_url: str, database_url: str, instance: str) -> dict[str, str]:
    return {
        **os.environ,
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "CENTRALINO_SERIAL": SERIAL,
        "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
        "CENTRALINO_INSTANCE_ID": instance,
        "CENTRALINO_LOG_LEVEL": "WARNING",
    }


async def test_entry_point_serves_and_stops_on_sigterm(nats_url: str, database_url: str) -> None:
    instance = f"licensing-proc-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    serving: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def on_beat(msg: Msg) -> None:
        beat = common_pb2.ServiceHeartbeat.FromString(msg.data)
        if beat.instance == instance and not serving.done():
            serving.set_result(beat.grpc_address)

    await nc.subscribe(heartbeat_subject("licensing"), cb=on_beat)
    await nc.flush()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "centralino_licensing",
        env=service_env(nats_url, database_url, instance),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        address = await asyncio.wait_for(serving, 30)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = licensing_pb2_grpc.LicensingServiceStub(channel)
            licence = await stub.ActivateLicence(pb.ActivateLicenceRequest(key=mint("call-center")))
            assert licence.valid
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await nc.close()


async def test_entry_point_refuses_a_missing_serial(nats_url: str, database_url: str) -> None:
    env = service_env(nats_url, database_url, "licensing-bad")
    env["CENTRALINO_SERIAL"] = ""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "centralino_licensing",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode != 0
    assert b"CENTRALINO_SERIAL" in stderr

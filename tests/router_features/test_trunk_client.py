"""Trunk registration over UDP against SIPp playing the provider's registrar."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from centralino_router.features.trunk_client import TrunkClient
from centralino_router.features.trunk_registration import TrunkAccount, TrunkState

SCENARIO = Path(__file__).with_name("provider_uas.xml")
SIPP_PORT, CLIENT_PORT, SIPP_MEDIA_PORT = 44010, 44011, 44020

pytestmark = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed")


def _account(password: str) -> TrunkAccount:
    return TrunkAccount(
        registrar=f"sip:127.0.0.1:{SIPP_PORT}",
        aor="sip:0612345@provider.test",
        username="0612345",
        password=password,
        contact=f"sip:0612345@127.0.0.1:{CLIENT_PORT}",
        via_sent_by=f"127.0.0.1:{CLIENT_PORT}",
        expires=60,
    )


async def _run(password: str, rounds: int) -> tuple[list[TrunkState], str, int]:
    sipp = await asyncio.create_subprocess_exec(
        *("sipp", "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(SIPP_PORT)),
        *("-mp", str(SIPP_MEDIA_PORT), "-m", "1", "-nostdin"),
        *("-timeout", "10s", "-timeout_error"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    states: list[TrunkState] = []
    done = asyncio.Event()

    def on_state(state: TrunkState) -> None:
        states.append(state)
        if states.count(TrunkState.REGISTERED) >= rounds or state is TrunkState.FAILED:
            done.set()

    loop = asyncio.get_running_loop()
    inbox: list[TrunkClient] = []

    class Socket(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            inbox[0].receive(data)

    transport, _ = await loop.create_datagram_endpoint(
        Socket, local_addr=("127.0.0.1", CLIENT_PORT)
    )
    client = TrunkClient(_account(password), ("127.0.0.1", SIPP_PORT), transport.sendto, on_state)
    inbox.append(client)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(done.wait(), 10)
        returncode = await asyncio.wait_for(sipp.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        transport.close()
        if sipp.returncode is None:
            sipp.kill()
            await sipp.wait()
    return states, client.registration.last_error, returncode


async def test_registers_with_digest_and_refreshes() -> None:
    """Challenge answered, 200 with expires=2, refresh after 1 s, challenged again."""
    states, last_error, returncode = await _run("s3cret", rounds=2)
    assert states == [TrunkState.REGISTERING, TrunkState.REGISTERED] * 2, last_error
    assert returncode == 0


async def test_wrong_password_is_refused_and_reported() -> None:
    states, last_error, returncode = await _run("wrong", rounds=1)
    assert states[-1] is TrunkState.FAILED
    assert last_error.startswith("403")
    assert returncode == 0

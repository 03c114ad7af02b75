"""Scanner defence with sipvicious: svwar cannot enumerate, svcrack gets blocked."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from registrar_clients import free_client_port, need
from registrar_harness import Pbx, pbx_edge, unique
from registrar_phone import Phone

from centralino.bus import Bus
from centralino.v1 import registrar_pb2

pytestmark = pytest.mark.e2e


async def _run(*cmd: str, timeout: float) -> str:
    process = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
    return out.decode(errors="replace")


@pytest.fixture
async def open_pbx(nats_url: str, database_url: str) -> AsyncIterator[Pbx]:
    """Scanner User-Agents and probes not counted: only the answers can give users away."""
    async with pbx_edge(
        nats_url,
        database_url,
        CENTRALINO_REGISTRAR_SCANNER_AGENTS="",
        CENTRALINO_REGISTRAR_MAX_PROBES="100000",
    ) as edge:
        yield edge


async def test_svwar_cannot_tell_real_users_from_fake_ones(open_pbx: Pbx) -> None:
    need("svwar")
    base = unique("6")[:7]
    for suffix in ("03", "07", "15"):
        await open_pbx.add_account(base + suffix, "svwarpw123")
    host, port = open_pbx.sip()
    out = await _run(
        "svwar",
        "-e",
        f"{base}00-{base}19",
        "-P",
        str(free_client_port()),
        "-b",
        "127.0.0.1",
        "--force",
        "-t",
        "0.02",
        f"udp://{host}:{port}",
        timeout=60,
    )
    for suffix in ("03", "07", "15"):
        assert base + suffix not in out, out
    assert "Traceback" not in out, out
    assert "found nothing" in out, out


async def test_svcrack_is_blocked_before_it_finds_the_password(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    need("svcrack")
    async with pbx_edge(
        nats_url,
        database_url,
        CENTRALINO_REGISTRAR_SCANNER_AGENTS="",
        CENTRALINO_REGISTRAR_MAX_FAILURES="5",
    ) as pbx:
        user = unique("7")
        password = "crackme" + secrets.token_hex(3)
        await pbx.add_account(user, password)
        words = [f"guess{i}" for i in range(20)] + [password]
        (tmp_path / "dict.txt").write_text("\n".join(words) + "\n")
        bus = await Bus.connect(nats_url, "block-watcher")
        blocks: asyncio.Queue[registrar_pb2.SourceBlockedEvent] = asyncio.Queue()

        async def on_block(subject: str, event: registrar_pb2.SourceBlockedEvent) -> None:
            blocks.put_nowait(event)

        await bus.subscribe(
            "centralino._system.registrar.source.blocked",
            registrar_pb2.SourceBlockedEvent,
            on_block,
        )
        host, port = pbx.sip()
        try:
            cracker = await asyncio.create_subprocess_exec(
                "svcrack",
                "-u",
                user,
                "-d",
                str(tmp_path / "dict.txt"),
                "-P",
                str(free_client_port()),
                "-b",
                "127.0.0.1",
                "--maximumtime",
                "3",
                f"udp://{host}:{port}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
            try:
                block = await asyncio.wait_for(blocks.get(), 20)
                # blocked: it only hears silence now; give it a moment to (not) succeed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cracker.wait(), 2)
            finally:
                if cracker.returncode is None:
                    cracker.kill()
                out = (await cracker.communicate())[0].decode(errors="replace")
            assert password not in out, out
            assert block.source_ip == "127.0.0.1" and block.reason == "auth_failure"
            assert block.failures >= 5
            # and the block holds for everybody from that source, right password or not
            phone = await Phone(pbx.sip(), user, password).open()
            try:
                phone.send(phone.build("OPTIONS", f"sip:{host}"))
                with pytest.raises(TimeoutError):
                    await phone.receive(timeout=0.5)
            finally:
                phone.close()
        finally:
            await bus.close()


async def test_scanner_user_agent_gets_blocked_at_once(pbx: Pbx) -> None:
    phone = await Phone(pbx.sip(), "100", "x", user_agent="friendly-scanner").open()
    try:
        phone.send(
            phone.build("REGISTER", f"sip:{pbx.sip()[0]}", contact=f"<{phone.contact_uri()}>")
        )
        first = await phone.response()
        assert first.status == 401  # looks like anyone else's answer...
        phone.send(phone.build("OPTIONS", f"sip:{pbx.sip()[0]}"))
        with pytest.raises(TimeoutError):  # ...but nothing more is answered
            await phone.receive(timeout=0.5)
    finally:
        phone.close()


async def test_first_unauthenticated_register_never_counts_as_failure(
    nats_url: str, database_url: str
) -> None:
    async with pbx_edge(nats_url, database_url, CENTRALINO_REGISTRAR_MAX_FAILURES="1") as pbx:
        user = unique("2")
        await pbx.add_account(user, "legitpw12")
        phone = await Phone(pbx.sip(), user, "legitpw12").open()
        try:
            for _ in range(5):  # each starts with a REGISTER without credentials
                assert (await phone.register()).status == 200
        finally:
            phone.close()


async def test_requests_beyond_the_per_source_rate_are_dropped(
    nats_url: str, database_url: str
) -> None:
    async with pbx_edge(
        nats_url, database_url, CENTRALINO_REGISTRAR_RATE="1", CENTRALINO_REGISTRAR_BURST="5"
    ) as pbx:
        phone = await Phone(pbx.sip(), "100", "x").open()
        try:
            for _ in range(20):
                phone.send(phone.build("OPTIONS", f"sip:{pbx.sip()[0]}"))
            answered = 0
            with contextlib.suppress(TimeoutError):
                while True:
                    await phone.response(timeout=0.5)
                    answered += 1
            assert 5 <= answered <= 6  # the burst, plus at most one token refilled
            assert pbx.registrar.edge is not None
            assert pbx.registrar.edge.guard.metrics.rate_limited >= 14
        finally:
            phone.close()

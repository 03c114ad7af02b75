"""Real SIP clients against a minimal server built on the stack (FEAT-01, REG-01).

SIPp and sipsak over UDP and TCP, baresip over TLS; client ports come from 47000-47999.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from centralino.sip.transport import TransportKind, self_signed_server_context

from .external import need, process, run, sipp
from .minimal_server import MinimalServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ssl.SSLContext]:
    context, _ = self_signed_server_context(["127.0.0.1"], tmp_path_factory.mktemp("tls"))
    yield context


@pytest.fixture
async def server(tls: ssl.SSLContext) -> AsyncIterator[MinimalServer]:
    server = MinimalServer()
    for kind in TransportKind:
        await server.listen(kind, "127.0.0.1", 0, tls if kind.secure else None)
    yield server
    await server.close()


@pytest.mark.parametrize(
    ("transport", "port"), [("udp", 47010), ("tcp", 47020)], ids=["udp", "tcp"]
)
@pytest.mark.parametrize(
    ("scenario", "calls"), [("options.xml", 10), ("register.xml", 5), ("invite.xml", 5)]
)
async def test_feat01_sipp_scenarios(
    server: MinimalServer, tmp_path: Path, scenario: str, calls: int, transport: str, port: int
) -> None:
    target = server.address(TransportKind(transport))
    stats = await sipp(
        scenario,
        target,
        transport=transport,
        calls=calls,
        port=port,
        media_port=port + 500,
        workdir=tmp_path,
        rate=50,
    )
    assert (stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == (str(calls), "0"), stats
    if scenario == "register.xml":
        registrations = [await server.next_registration() for _ in range(calls)]
        assert {r.flow.kind for r in registrations} == {TransportKind(transport)}
        assert {r.expires for r in registrations} == {300}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_feat01_sipsak_options(server: MinimalServer, transport: str) -> None:
    need("sipsak")
    host, port = server.address(TransportKind(transport))
    # sipsak truncates 5-digit ports inside -s, so the port goes in -r.
    argv = ["sipsak", "-vv", "-s", f"sip:{host}", "-r", str(port)]
    if transport == "tcp":
        argv += ["--transport", "tcp"]
    code, out = await run(*argv, timeout=15)
    assert code == 0, out
    assert "SIP/2.0 200 OK" in out


BARESIP_CONFIG = """\
net_interface\t\t127.0.0.1
sip_listen\t\t127.0.0.1:{sip}
module_path\t\t/usr/lib/baresip/modules
module_tmp\t\taccount.so
"""


async def test_reg01_baresip_registers_over_tls_and_is_reached_on_that_flow(
    server: MinimalServer, tmp_path: Path
) -> None:
    need("baresip")
    host, port = server.address(TransportKind.TLS)
    (tmp_path / "config").write_text(BARESIP_CONFIG.format(sip=47100))  # TLS on 47101
    (tmp_path / "accounts").write_text(
        f"<sip:alice@{host}:{port};transport=tls>;auth_pass=unused;regint=300\n"
    )
    async with process("baresip", "-f", str(tmp_path), "-t", "30") as baresip:
        await baresip.expect(r"\{0/TLS/v4\} 200 OK .*\[1 binding\]")
        registration = await server.next_registration()
        assert registration.flow.kind is TransportKind.TLS
        assert registration.aor == "sip:alice@127.0.0.1"
        # REG-01: a request for the phone goes over the connection it registered on.
        status, flow = await server.request_over_flow(registration.flow.flow_id, "OPTIONS")
        assert status == 200
        assert flow == registration.flow


async def test_feat01_malformed_udp_request_gets_400_naming_the_problem(
    server: MinimalServer,
) -> None:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Collect(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            replies.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(
        Collect, remote_addr=server.address(TransportKind.UDP)
    )
    try:
        bad_cseq = (
            b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:47030;branch=z9hG4bK-bad\r\n"
            b"From: <sip:a@127.0.0.1>;tag=1\r\n"
            b"To: <sip:127.0.0.1>\r\n"
            b"Call-ID: bad-cseq\r\n"
            b"CSeq: one OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        transport.sendto(bad_cseq)
        async with asyncio.timeout(5):
            reply = await replies.get()
        status_line = reply.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"SIP/2.0 400 "), reply
        assert b"CSeq" in status_line, status_line  # the reason names the broken header
        assert b"Call-ID: bad-cseq\r\n" in reply
        # Garbage is dropped without an answer; the server keeps serving.
        transport.sendto(b"\x16\x03\x01\x02\x00garbage that is not SIP at all")
        transport.sendto(b"NOT-SIP\r\n\r\n")
        need("sipsak")
        sipsak_port = str(server.address(TransportKind.UDP)[1])
        code, out = await run("sipsak", "-s", "sip:127.0.0.1", "-r", sipsak_port, timeout=15)
        assert code == 0, out
        assert replies.empty()
    finally:
        transport.close()

"""The asyncio transports over real loopback sockets, IPv4 and IPv6 (FEAT-01, REG-01)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import uvloop

from centralino.sip.transport import (
    PONG,
    Flow,
    FlowClosedError,
    NoListenerError,
    NoRouteError,
    OversizeDatagramError,
    TransportKind,
    TransportManager,
    client_context,
    self_signed_server_context,
)

from .clients import Client, request

KINDS = list(TransportKind)
OK = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ssl.SSLContext, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    yield self_signed_server_context(["localhost", "127.0.0.1", "::1"], directory)


class Recorder:
    """A manager plus everything it delivered."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[bytes, Flow]] = asyncio.Queue()
        self.closed: asyncio.Queue[tuple[Flow, str]] = asyncio.Queue()

    def on_message(self, data: bytes, flow: Flow) -> None:
        self.messages.put_nowait((data, flow))

    def on_closed(self, flow: Flow, reason: str) -> None:
        self.closed.put_nowait((flow, reason))

    async def next_message(self) -> tuple[bytes, Flow]:
        async with asyncio.timeout(5):
            return await self.messages.get()

    async def next_closed(self, timeout: float = 5.0) -> tuple[Flow, str]:
        async with asyncio.timeout(timeout):
            return await self.closed.get()


@pytest.fixture
async def server(
    tls: tuple[ssl.SSLContext, Path],
) -> AsyncIterator[tuple[TransportManager, Recorder]]:
    recorder = Recorder()
    manager = TransportManager(
        recorder.on_message,
        on_flow_closed=recorder.on_closed,
        client_ssl_context=client_context(tls[1]),
        max_message_size=4096,
    )
    yield manager, recorder
    await manager.close()


def client_ssl(kind: TransportKind, tls: tuple[ssl.SSLContext, Path]) -> ssl.SSLContext | None:
    return client_context(tls[1]) if kind.secure else None


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("kind", KINDS)
async def test_feat01_request_in_reply_out_on_the_same_flow(
    server: tuple[TransportManager, Recorder],
    tls: tuple[ssl.SSLContext, Path],
    kind: TransportKind,
    host: str,
) -> None:
    manager, recorder = server
    listener = await manager.listen(kind, host, 0, tls[0] if kind.secure else None)
    assert listener.local[0] == host and listener.local[1] > 0
    client = await Client.connect(kind, listener.local, client_ssl(kind, tls))
    try:
        await client.send(request(call_id=f"{kind}-{host}"))
        data, flow = await recorder.next_message()
        assert data == request(call_id=f"{kind}-{host}")
        assert (flow.kind, flow.local, flow.remote) == (kind, listener.local, client.local)
        assert manager.flow(flow.flow_id) == flow
        reply = OK
        await manager.send(reply, flow.flow_id)
        assert await client.recv(len(reply) if kind.reliable else None) == reply
    finally:
        await client.close()


@pytest.mark.parametrize("kind", [TransportKind.TCP, TransportKind.TLS])
async def test_feat01_stream_messages_batched_and_pings_answered(
    server: tuple[TransportManager, Recorder],
    tls: tuple[ssl.SSLContext, Path],
    kind: TransportKind,
) -> None:
    manager, recorder = server
    listener = await manager.listen(kind, "127.0.0.1", 0, tls[0] if kind.secure else None)
    client = await Client.connect(kind, listener.local, client_ssl(kind, tls))
    try:
        body = b"v=0\r\n"
        await client.send(request(call_id="a") + b"\r\n\r\n" + request("INVITE", "b", body))
        assert await client.recv(len(PONG)) == PONG  # RFC 5626 §3.5.1
        first, flow_a = await recorder.next_message()
        second, flow_b = await recorder.next_message()
        assert first == request(call_id="a")
        assert second == request("INVITE", "b", body)
        assert flow_a == flow_b
    finally:
        await client.close()


async def test_feat01_udp_drops_keepalives_and_oversize_datagrams(
    server: tuple[TransportManager, Recorder],
) -> None:
    manager, recorder = server
    listener = await manager.listen("udp", "127.0.0.1", 0)
    client = await Client.connect(TransportKind.UDP, listener.local)
    try:
        await client.send(b"\r\n\r\n")
        await client.send(request(body=b"x" * 5000))  # over this manager's 4096-byte limit
        await client.send(request(call_id="after"))
        data, flow = await recorder.next_message()
        assert data == request(call_id="after")  # nothing before it was delivered
        with pytest.raises(OversizeDatagramError, match="65508-byte message"):
            await manager.send(b"x" * 65508, flow.flow_id)
    finally:
        await client.close()


async def test_feat01_udp_large_datagram_within_limit_is_delivered() -> None:
    recorder = Recorder()
    manager = TransportManager(recorder.on_message, max_message_size=65535)
    try:
        listener = await manager.listen("udp", "127.0.0.1", 0)
        client = await Client.connect(TransportKind.UDP, listener.local)
        big = request(body=b"y" * 60000)
        await client.send(big)
        assert (await recorder.next_message())[0] == big
        await client.close()
    finally:
        await manager.close()


@pytest.mark.parametrize("kind", [TransportKind.TCP, TransportKind.TLS])
async def test_reg01_send_to_opens_one_connection_and_reuses_it(
    server: tuple[TransportManager, Recorder],
    tls: tuple[ssl.SSLContext, Path],
    kind: TransportKind,
) -> None:
    manager, _ = server
    peer_recorder = Recorder()
    peer = TransportManager(peer_recorder.on_message)
    try:
        target = await peer.listen(kind, "127.0.0.1", 0, tls[0] if kind.secure else None)
        flows = await asyncio.gather(
            *(manager.send_to(kind, target.local, request(call_id=str(i))) for i in range(3))
        )
        assert len({f.flow_id for f in flows}) == 1  # concurrent sends share the connect
        received = [await peer_recorder.next_message() for _ in range(3)]
        assert sorted(d for d, _ in received) == sorted(request(call_id=str(i)) for i in range(3))
        peer_flow = received[0][1]
        assert {f.flow_id for _, f in received} == {peer_flow.flow_id}
        # The peer answers on the flow the request came in on; we get it as a message.
        await peer.send(OK, peer_flow.flow_id)
        data, back = await server[1].next_message()
        assert data.startswith(b"SIP/2.0 200 OK") and back.flow_id == flows[0].flow_id
    finally:
        await peer.close()


async def test_reg01_send_to_udp_leaves_from_the_listener(
    server: tuple[TransportManager, Recorder],
) -> None:
    manager, _ = server
    v6 = await manager.listen("udp", "::1", 0)
    peer_recorder = Recorder()
    peer = TransportManager(peer_recorder.on_message)
    try:
        target = await peer.listen("udp", "::1", 0)
        flow = await manager.send_to("udp", ("[::1]", target.local[1]), request())
        _, seen = await peer_recorder.next_message()
        assert seen.remote == v6.local == flow.local
        with pytest.raises(NoListenerError, match="no UDP listener"):
            await manager.send_to("udp", ("127.0.0.1", target.local[1]), request())
    finally:
        await peer.close()


async def test_feat01_idle_flows_are_reaped_and_reported(
    tls: tuple[ssl.SSLContext, Path],
) -> None:
    recorder = Recorder()
    manager = TransportManager(
        recorder.on_message, on_flow_closed=recorder.on_closed, idle_timeout=0.2
    )
    try:
        listener = await manager.listen("tcp", "127.0.0.1", 0)
        client = await Client.connect(TransportKind.TCP, listener.local)
        await client.send(request())
        _, flow = await recorder.next_message()
        closed, reason = await recorder.next_closed(timeout=2)
        assert closed == flow and reason == "idle for 0.2 s"
        assert await client.recv() == b""  # the client sees the connection end
        assert manager.flow(flow.flow_id) is None
        with pytest.raises(FlowClosedError, match=flow.flow_id):
            await manager.send(request(), flow.flow_id)
        await client.close()
    finally:
        await manager.close()


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"OPTIONS sip:a SIP/2.0\r\nCall-ID: x\r\n\r\n", "Content-Length header is mandatory"),
        (b"INVITE sip:a SIP/2.0\r\nContent-Length: 100000\r\n\r\n", "4096-byte limit"),
    ],
)
async def test_feat01_framing_error_closes_the_flow(
    server: tuple[TransportManager, Recorder], garbage: bytes, reason: str
) -> None:
    manager, recorder = server
    listener = await manager.listen("tcp", "::1", 0)
    client = await Client.connect(TransportKind.TCP, listener.local)
    try:
        await client.send(request(call_id="before") + garbage)
        assert (await recorder.next_message())[0] == request(call_id="before")
        flow, why = await recorder.next_closed()
        assert flow.remote == client.local and reason in why
        assert await client.recv() == b""
        # The listener still serves others.
        other = await Client.connect(TransportKind.TCP, listener.local)
        await other.send(request(call_id="still-up"))
        assert (await recorder.next_message())[0] == request(call_id="still-up")
        await other.close()
    finally:
        await client.close()


async def test_feat01_peer_closing_a_connection_is_reported(
    server: tuple[TransportManager, Recorder], tls: tuple[ssl.SSLContext, Path]
) -> None:
    manager, recorder = server
    listener = await manager.listen("wss", "127.0.0.1", 0, tls[0])
    client = await Client.connect(TransportKind.WSS, listener.local, client_context(tls[1]))
    await client.send(request())
    _, flow = await recorder.next_message()
    await client.close()
    assert (await recorder.next_closed())[0] == flow
    with pytest.raises(FlowClosedError):
        await manager.send(request(), flow.flow_id)


async def test_feat01_websocket_without_sip_subprotocol_is_refused(
    server: tuple[TransportManager, Recorder],
) -> None:
    manager, _ = server
    listener = await manager.listen("ws", "127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(f"ws://127.0.0.1:{listener.local[1]}/", protocols=("chat",))
        assert info.value.status == 400
        async with session.get(
            f"http://127.0.0.1:{listener.local[1]}/",
            headers={"Upgrade": "websocket", "Connection": "Upgrade"},
        ) as response:
            assert "needs the 'sip' subprotocol" in await response.text()


async def test_feat01_send_to_refusals_name_the_problem(
    server: tuple[TransportManager, Recorder], tls: tuple[ssl.SSLContext, Path]
) -> None:
    manager, _ = server
    with pytest.raises(NoRouteError, match="no open WS flow"):
        await manager.send_to("ws", ("127.0.0.1", 5066), request())
    with pytest.raises(ValueError, match=r"needs an IP address, not 'pbx\.example\.com'"):
        await manager.send_to("tcp", ("pbx.example.com", 5060), request())
    with pytest.raises(ValueError, match="TLS listener needs an ssl_context"):
        await manager.listen("tls", "127.0.0.1", 0)
    with pytest.raises(ValueError, match="'sctp' is not a valid TransportKind"):
        await manager.listen("sctp", "127.0.0.1", 0)
    with pytest.raises(FlowClosedError, match="'nonsense'"):
        await manager.send(request(), "nonsense")


async def test_feat01_connect_failure_is_a_transport_error(
    server: tuple[TransportManager, Recorder],
) -> None:
    manager, _ = server
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(Exception, match=f"cannot connect TCP to \\('127.0.0.1', {port}\\)"):
        await manager.send_to("tcp", ("127.0.0.1", port), request())


def test_feat01_transports_run_on_uvloop(tls: tuple[ssl.SSLContext, Path]) -> None:
    async def roundtrips() -> list[TransportKind]:
        recorder = Recorder()
        manager = TransportManager(recorder.on_message)
        seen: list[TransportKind] = []
        try:
            for kind in KINDS:
                listener = await manager.listen(
                    kind, "127.0.0.1", 0, tls[0] if kind.secure else None
                )
                client = await Client.connect(kind, listener.local, client_ssl(kind, tls))
                await client.send(request())
                _, flow = await recorder.next_message()
                await manager.send(OK, flow.flow_id)
                assert await client.recv(len(OK) if kind.reliable else None) == OK
                await client.close()
                seen.append(flow.kind)
        finally:
            await manager.close()
        return seen

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(roundtrips()) == KINDS


@pytest.mark.parametrize("kind", [TransportKind.UDP, TransportKind.TCP])
async def test_feat01_a_failing_handler_does_not_break_the_flow(
    caplog: pytest.LogCaptureFixture, kind: TransportKind
) -> None:
    delivered: asyncio.Queue[bytes] = asyncio.Queue()

    def handler(data: bytes, flow: Flow) -> None:
        if b"Call-ID: boom" in data:
            raise RuntimeError("handler bug")
        delivered.put_nowait(data)

    manager = TransportManager(handler)
    try:
        listener = await manager.listen(kind, "127.0.0.1", 0)
        client = await Client.connect(kind, listener.local)
        await client.send(request(call_id="boom"))
        await client.send(request(call_id="fine"))
        async with asyncio.timeout(5):
            assert await delivered.get() == request(call_id="fine")
        assert "on_message failed" in caplog.text
        await client.close()
    finally:
        await manager.close()


async def test_feat01_a_peer_that_stops_reading_loses_its_flow(
    server: tuple[TransportManager, Recorder],
) -> None:
    manager, recorder = server
    listener = await manager.listen("tcp", "127.0.0.1", 0)
    _, writer = await asyncio.open_connection(*listener.local)
    writer.write(request())  # then never read again
    _, flow = await recorder.next_message()
    big = request(body=b"z" * 60000)
    with pytest.raises(FlowClosedError):
        for _ in range(1000):  # the kernel buffers absorb some megabytes first
            await manager.send(big, flow.flow_id)
    closed, reason = await recorder.next_closed()
    assert closed == flow and reason == "peer is not reading"
    writer.close()

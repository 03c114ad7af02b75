"""Plain clients for each transport, written against the sockets/aiohttp directly."""

from __future__ import annotations

import asyncio
import ssl
from typing import cast

import aiohttp

from centralino.sip.transport import Address, TransportKind


def request(method: str = "OPTIONS", call_id: str = "c1", body: bytes = b"") -> bytes:
    return (
        f"{method} sip:pbx@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-{call_id}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait(data)


class Client:
    """One connection (or UDP socket) to a listener; ``recv`` returns raw bytes."""

    local: Address

    def __init__(self, kind: TransportKind) -> None:
        self.kind = kind
        self._udp: asyncio.DatagramTransport | None = None
        self._datagrams: _Datagrams | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    @classmethod
    async def connect(
        cls, kind: TransportKind, addr: Address, ssl_context: ssl.SSLContext | None = None
    ) -> Client:
        self = cls(kind)
        loop = asyncio.get_running_loop()
        if kind is TransportKind.UDP:
            transport, self._datagrams = await loop.create_datagram_endpoint(
                _Datagrams, remote_addr=addr
            )
            self._udp = cast(asyncio.DatagramTransport, transport)
            sockname = transport.get_extra_info("sockname")
        elif kind in (TransportKind.TCP, TransportKind.TLS):
            self._reader, self._writer = await asyncio.open_connection(
                addr[0], addr[1], ssl=ssl_context, server_hostname=addr[0] if ssl_context else None
            )
            sockname = self._writer.get_extra_info("sockname")
        else:
            host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
            scheme = "wss" if kind is TransportKind.WSS else "ws"
            self._session = aiohttp.ClientSession()
            self._ws = await self._session.ws_connect(
                f"{scheme}://{host}:{addr[1]}/", protocols=("sip",), ssl=ssl_context or False
            )
            assert self._ws.protocol == "sip"
            sock = self._ws.get_extra_info("sockname")
            sockname = sock
        self.local = (str(sockname[0]), int(sockname[1]))
        return self

    async def send(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None:
            self._writer.write(data)
            await self._writer.drain()
        else:
            assert self._ws is not None
            await self._ws.send_str(data.decode())

    async def recv(self, n: int | None = None, timeout: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout):
            if self._datagrams is not None:
                return await self._datagrams.queue.get()
            if self._reader is not None:
                return await (self._reader.readexactly(n) if n else self._reader.read(65536))
            assert self._ws is not None
            msg = await self._ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                return cast(str, msg.data).encode()
            if msg.type is aiohttp.WSMsgType.BINARY:
                return cast(bytes, msg.data)
            return b""  # closed

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

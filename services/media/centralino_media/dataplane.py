"""The asyncio UDP data plane: one socket per RTP/RTCP port, routed to the sans-IO core.

This layer only moves bytes: it reads the loop clock, hands datagrams to the owning
:class:`MediaSession` and sends what it returns from the socket the core names.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

from centralino_media.ports import PortAllocator, PortsExhaustedError
from centralino_media.relay import Datagram, MediaSession

log = logging.getLogger(__name__)

#: Socket buffers sized for bursts of many calls: 50 pps x 1000 legs queue quickly.
SOCKET_BUFFER = 1 << 20


class _PortProtocol(asyncio.DatagramProtocol):
    __slots__ = ("plane", "port")

    def __init__(self, plane: DataPlane, port: int) -> None:
        self.plane = plane
        self.port = port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.plane.on_datagram(self.port, data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a phone that went away: the inactivity timer handles it.
        log.debug("udp error on port %d: %s", self.port, exc)


class DataPlane:
    def __init__(self, bind_address: str, allocator: PortAllocator) -> None:
        self.bind_address = bind_address
        self.allocator = allocator
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._routes: dict[int, MediaSession] = {}
        self._loop = asyncio.get_running_loop()

    async def _bind(self, port: int) -> asyncio.DatagramTransport:
        family = socket.AF_INET6 if ":" in self.bind_address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            sock.bind((self.bind_address, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _PortProtocol(self, port), sock=sock
        )
        return transport

    async def open_pair(self) -> tuple[int, int]:
        """Bind an RTP/RTCP pair from the range, skipping ports another process holds."""
        for _ in range(self.allocator.capacity):
            rtp = self.allocator.acquire()
            try:
                first = await self._bind(rtp)
                try:
                    second = await self._bind(rtp + 1)
                except OSError:
                    first.close()
                    raise
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    self.allocator.release(rtp)
                    raise
                # Leave it marked as used: it belongs to someone else for now.
                log.warning("rtp port %d busy, skipping", rtp)
                continue
            self._transports[rtp] = first
            self._transports[rtp + 1] = second
            return rtp, rtp + 1
        raise PortsExhaustedError("no bindable RTP port pair left in the range")

    def close_pair(self, rtp: int) -> None:
        for port in (rtp, rtp + 1):
            self._routes.pop(port, None)
            transport = self._transports.pop(port, None)
            if transport is not None:
                transport.close()
        self.allocator.release(rtp)

    def attach(self, session: MediaSession) -> None:
        for port in session.ports():
            self._routes[port] = session

    def on_datagram(self, port: int, data: bytes, addr: tuple[str, int]) -> None:
        session = self._routes.get(port)
        if session is None:
            return  # a late packet for a released session
        self.send(session.receive(port, data, (addr[0], addr[1]), self._loop.time()))

    def send(self, datagrams: list[Datagram]) -> None:
        transports = self._transports
        for local_port, address, data in datagrams:
            transport = transports.get(local_port)
            if transport is not None:
                transport.sendto(data, address)

    def now(self) -> float:
        return self._loop.time()

    def close(self) -> None:
        for rtp in [p for p in self._transports if p % 2 == 0]:
            self.close_pair(rtp)

"""asyncio adapter for SIP over UDP (RFC 3261 §18): one message per datagram."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import cast

from centralino.sip.transport.connection import peer_address
from centralino.sip.transport.flow import (
    Address,
    Flow,
    NoListenerError,
    OversizeDatagramError,
    TransportKind,
)

__all__ = ["MAX_DATAGRAM", "UdpEndpoint", "parse_udp_flow_id", "udp_flow_id"]

log = logging.getLogger(__name__)

# The largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP header bytes).
MAX_DATAGRAM = 65507

# Bursts of requests at a busy registrar overflow the default (~200 KiB) receive buffer
# long before the CPU is the limit; the kernel caps this at net.core.rmem_max anyway.
_SOCKET_BUFFER = 4 * 1024 * 1024

# Datagrams made only of these bytes are keep-alives (CRLF as sent by many phones, NUL
# padding as sent by some NAT keep-alive implementations), never messages.
_KEEPALIVE_BYTES = b"\r\n\0 "


def udp_flow_id(local: Address, remote: Address) -> str:
    """The flow id of a UDP peer as seen on one listener: it names both ends."""
    return f"udp|{local[0]}|{local[1]}|{remote[0]}|{remote[1]}"


def parse_udp_flow_id(flow_id: str) -> tuple[Address, Address] | None:
    parts = flow_id.split("|")
    if len(parts) != 5 or parts[0] != "udp" or not (parts[2].isdigit() and parts[4].isdigit()):
        return None
    return (parts[1], int(parts[2])), (parts[3], int(parts[4]))


class UdpEndpoint(asyncio.DatagramProtocol):
    """A UDP listener; it both receives and sends (so replies leave from the SIP port)."""

    def __init__(self, on_message: Callable[[bytes, Flow], None], max_message_size: int) -> None:
        self._on_message = on_message
        self._max = min(max_message_size, MAX_DATAGRAM)
        self._transport: asyncio.DatagramTransport | None = None
        self.local: Address = ("", 0)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.local = peer_address(transport.get_extra_info("sockname"))
        sock = transport.get_extra_info("socket")
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
            except OSError as exc:  # a sandbox may forbid it; the default still works
                log.debug("cannot enlarge UDP socket buffer on %s: %s", self.local, exc)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not data.strip(_KEEPALIVE_BYTES):
            return
        if len(data) > self._max:
            log.warning(
                "dropping %d-byte datagram from %s: over %d bytes", len(data), addr, self._max
            )
            return
        remote = peer_address(addr)
        flow = Flow(TransportKind.UDP, self.local, remote, udp_flow_id(self.local, remote))
        self._on_message(data, flow)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for earlier sends (port unreachable): the transaction layer times out.
        log.debug("UDP error on %s: %s", self.local, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes, remote: Address) -> None:
        if len(data) > MAX_DATAGRAM:
            raise OversizeDatagramError(len(data), MAX_DATAGRAM)
        if self._transport is None:
            raise NoListenerError(f"UDP listener {self.local} is closed")
        self._transport.sendto(data, remote)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

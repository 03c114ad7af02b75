"""What the asyncio adapters (stream, WebSocket) and the manager share about a connection."""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from typing import Any, Protocol

from centralino.sip.transport.flow import Address, Flow, TransportKind

__all__ = ["Connection", "ConnectionOwner", "address_family", "peer_address"]


def peer_address(sockaddr: Any) -> Address:
    """(host, port) from a socket address; IPv6 addresses carry flowinfo and scope id."""
    if not isinstance(sockaddr, tuple) or len(sockaddr) < 2:
        raise ValueError(f"not an IP socket address: {sockaddr!r}")
    return (str(sockaddr[0]), int(sockaddr[1]))


def address_family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Connection(ABC):
    """One connection-oriented flow (TCP, TLS, WS or WSS)."""

    flow: Flow
    last_activity: float

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Send one complete SIP message."""

    @abstractmethod
    def close(self, reason: str | None = None) -> None:
        """Start closing; the owner hears ``connection_closed`` when it is done."""


class ConnectionOwner(Protocol):
    """The manager, as the adapters see it."""

    def new_flow_id(self, kind: TransportKind) -> str: ...

    def connection_opened(self, connection: Connection) -> None: ...

    def connection_closed(self, connection: Connection, reason: str | None) -> None: ...

    def message_received(self, data: bytes, flow: Flow) -> None: ...

    def now(self) -> float: ...

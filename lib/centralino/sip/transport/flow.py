"""Transport kinds, flows and the errors the transport layer raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Address",
    "Flow",
    "FlowClosedError",
    "NoListenerError",
    "NoRouteError",
    "OversizeDatagramError",
    "TransportError",
    "TransportKind",
]

Address = tuple[str, int]


class TransportKind(enum.StrEnum):
    """The SIP transports of RFC 3261 §18 and RFC 7118, by their Via/URI token."""

    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"
    WS = "ws"
    WSS = "wss"

    @property
    def reliable(self) -> bool:
        """Connection-oriented: messages travel on a flow that can be reused."""
        return self is not TransportKind.UDP

    @property
    def secure(self) -> bool:
        return self in (TransportKind.TLS, TransportKind.WSS)

    @property
    def via_token(self) -> str:
        """The transport as written in a Via header (``SIP/2.0/WSS``)."""
        return self.value.upper()

    @property
    def default_port(self) -> int:
        return _DEFAULT_PORTS[self]


# RFC 3261 §19.1.2 (5060/5061), RFC 7118 §7 leaves WS to the HTTP defaults.
_DEFAULT_PORTS = {
    TransportKind.UDP: 5060,
    TransportKind.TCP: 5060,
    TransportKind.TLS: 5061,
    TransportKind.WS: 80,
    TransportKind.WSS: 443,
}


@dataclass(frozen=True, slots=True)
class Flow:
    """Where a message came from, and how to send back on the same path (RFC 5626 flow).

    ``flow_id`` is stable for the life of a connection; for UDP it names the listening
    socket and the peer, so it stays valid while that listener is open.
    """

    kind: TransportKind
    local: Address
    remote: Address
    flow_id: str


class TransportError(Exception):
    """A message could not be sent or a listener could not be used."""


class FlowClosedError(TransportError):
    """The flow a message was meant for no longer exists (closed, reaped or unknown)."""

    def __init__(self, flow_id: str) -> None:
        super().__init__(f"flow {flow_id!r} is closed or unknown")
        self.flow_id = flow_id


class NoRouteError(TransportError):
    """There is no way to reach that address over that transport from here."""


class NoListenerError(NoRouteError):
    """No listener of the needed transport and address family is open."""


class OversizeDatagramError(TransportError):
    """A message is too large for one UDP datagram."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size}-byte message exceeds the {limit}-byte UDP limit")
        self.size = size
        self.limit = limit

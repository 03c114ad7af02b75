"""One place to listen on, receive from and send over every SIP transport.

The manager owns the listeners and remembers every connection-oriented flow by its id,
so a request for a phone can go back over the very connection the phone registered on
(the flow idea of RFC 5626), and a message to an address we already have a connection
with reuses it (RFC 3261 §18.1.1). Flows that stay silent past ``idle_timeout`` are
closed; phones keep theirs alive with CRLF pings or re-registrations.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from centralino.sip.transport.connection import Connection, address_family
from centralino.sip.transport.flow import (
    Address,
    Flow,
    FlowClosedError,
    NoListenerError,
    NoRouteError,
    TransportError,
    TransportKind,
)
from centralino.sip.transport.framing import DEFAULT_MAX_MESSAGE_SIZE
from centralino.sip.transport.stream import StreamConnection
from centralino.sip.transport.udp import UdpEndpoint, parse_udp_flow_id, udp_flow_id
from centralino.sip.transport.websocket import WebSocketListener

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "FlowClosedHandler",
    "Listener",
    "MessageHandler",
    "TransportManager",
]

log = logging.getLogger(__name__)

MessageHandler = Callable[[bytes, Flow], None]
FlowClosedHandler = Callable[[Flow, str], None]

# RFC 3261 leaves connection lifetime to local policy; phones re-register or ping well
# within 15 minutes, and idle TCP state costs the PBX memory and file descriptors.
DEFAULT_IDLE_TIMEOUT = 900.0


@dataclass(frozen=True, slots=True)
class Listener:
    """An open listening socket; ``local`` holds the real port when 0 was asked for."""

    kind: TransportKind
    local: Address


class TransportManager:
    """Listeners and flows for UDP, TCP, TLS, WS and WSS behind one interface.

    ``on_message`` is called for every received message with its :class:`Flow`; it must
    not block (hand work to a task). ``on_flow_closed`` hears about every closed
    connection-oriented flow with a reason. Create the manager inside the running loop.
    """

    def __init__(
        self,
        on_message: MessageHandler,
        *,
        on_flow_closed: FlowClosedHandler | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        client_ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        if idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, not {idle_timeout}")
        self._on_message = on_message
        self._on_flow_closed = on_flow_closed
        self._idle_timeout = idle_timeout
        self._max = max_message_size
        self._client_ssl = client_ssl_context
        self._connect_timeout = connect_timeout
        self._loop = asyncio.get_running_loop()
        self._prefix = secrets.token_hex(4)  # flow ids stay unique across restarts
        self._ids = count(1)
        self._udp: dict[Address, UdpEndpoint] = {}
        self._servers: list[tuple[Listener, asyncio.Server]] = []
        self._websockets: list[tuple[Listener, WebSocketListener]] = []
        self._flows: dict[str, Connection] = {}
        self._by_remote: dict[tuple[TransportKind, Address], str] = {}
        self._connecting: dict[tuple[TransportKind, Address], asyncio.Future[Connection]] = {}
        self._reaper: asyncio.TimerHandle | None = None
        self._closed = False

    # -- listening ---------------------------------------------------------------

    async def listen(
        self,
        kind: TransportKind | str,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Listener:
        """Open a listener; TLS and WSS need a server ``ssl_context``."""
        kind = TransportKind(kind)
        if kind.secure != (ssl_context is not None):
            need = "needs" if kind.secure else "takes no"
            raise ValueError(f"{kind.via_token} listener {need} an ssl_context")
        if kind is TransportKind.UDP:
            _, endpoint = await self._loop.create_datagram_endpoint(
                lambda: UdpEndpoint(self.message_received, self._max), local_addr=(host, port)
            )
            self._udp[endpoint.local] = endpoint
            return Listener(kind, endpoint.local)
        if kind in (TransportKind.TCP, TransportKind.TLS):
            server = await self._loop.create_server(
                lambda: StreamConnection(self, kind, self._max), host, port, ssl=ssl_context
            )
            sockname = server.sockets[0].getsockname()
            listener = Listener(kind, (str(sockname[0]), int(sockname[1])))
            self._servers.append((listener, server))
            self._schedule_reaper()
            return listener
        ws = WebSocketListener(self, kind, self._max)
        await ws.start(host, port, ssl_context)
        listener = Listener(kind, ws.local)
        self._websockets.append((listener, ws))
        self._schedule_reaper()
        return listener

    @property
    def listeners(self) -> list[Listener]:
        udp = [Listener(TransportKind.UDP, local) for local in self._udp]
        return udp + [lst for lst, _ in self._servers] + [lst for lst, _ in self._websockets]

    # -- sending -----------------------------------------------------------------

    def flow(self, flow_id: str) -> Flow | None:
        """The open flow with this id, if any."""
        connection = self._flows.get(flow_id)
        if connection is not None:
            return connection.flow
        udp = parse_udp_flow_id(flow_id)
        if udp is not None and udp[0] in self._udp:
            return Flow(TransportKind.UDP, udp[0], udp[1], flow_id)
        return None

    async def send(self, data: bytes, flow_id: str) -> None:
        """Send over an existing flow; :class:`FlowClosedError` when it is gone."""
        connection = self._flows.get(flow_id)
        if connection is not None:
            await connection.write(data)
            return
        udp = parse_udp_flow_id(flow_id)
        if udp is None or udp[0] not in self._udp:
            raise FlowClosedError(flow_id)
        self._udp[udp[0]].send(data, udp[1])

    async def send_to(
        self,
        kind: TransportKind | str,
        addr: Address,
        data: bytes,
        *,
        server_hostname: str | None = None,
    ) -> Flow:
        """Send to an IP address and port, reusing or opening a connection as needed.

        UDP leaves from a listener of the address's family, so replies come back to it.
        TCP and TLS open a connection when none to ``addr`` is open; its replies arrive
        through ``on_message`` like any other. WebSocket clients cannot be connected to,
        so WS and WSS only reuse an open flow. Returns the flow used.
        """
        kind = TransportKind(kind)
        addr = (_ip_literal(addr[0]), addr[1])
        if kind is TransportKind.UDP:
            endpoint = self._udp_for(addr[0])
            endpoint.send(data, addr)
            return Flow(kind, endpoint.local, addr, udp_flow_id(endpoint.local, addr))
        flow_id = self._by_remote.get((kind, addr))
        connection = self._flows.get(flow_id) if flow_id else None
        if connection is None:
            if kind in (TransportKind.WS, TransportKind.WSS):
                raise NoRouteError(f"no open {kind.via_token} flow to {addr}")
            connection = await self._connect(kind, addr, server_hostname)
        await connection.write(data)
        return connection.flow

    def close_flow(self, flow_id: str, reason: str = "closed locally") -> None:
        connection = self._flows.get(flow_id)
        if connection is not None:
            connection.close(reason)

    async def close(self) -> None:
        """Close every listener and flow."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
        for _, ws in self._websockets:
            await ws.close()
        for _, server in self._servers:
            server.close()
        for connection in list(self._flows.values()):
            connection.close("transport manager closed")
        for _, server in self._servers:
            await server.wait_closed()
        for endpoint in self._udp.values():
            endpoint.close()
            await endpoint.closed
        self._websockets.clear()
        self._servers.clear()
        self._udp.clear()

    # -- ConnectionOwner ---------------------------------------------------------

    def now(self) -> float:
        return self._loop.time()

    def new_flow_id(self, kind: TransportKind) -> str:
        return f"{kind.value}-{self._prefix}-{next(self._ids)}"

    def connection_opened(self, connection: Connection) -> None:
        flow = connection.flow
        self._flows[flow.flow_id] = connection
        self._by_remote[(flow.kind, flow.remote)] = flow.flow_id

    def connection_closed(self, connection: Connection, reason: str | None) -> None:
        flow = connection.flow
        if self._flows.pop(flow.flow_id, None) is None:
            return
        if self._by_remote.get((flow.kind, flow.remote)) == flow.flow_id:
            del self._by_remote[(flow.kind, flow.remote)]
        log.debug("flow %s to %s closed: %s", flow.flow_id, flow.remote, reason)
        if self._on_flow_closed is not None:
            self._on_flow_closed(flow, reason or "closed")

    def message_received(self, data: bytes, flow: Flow) -> None:
        try:
            self._on_message(data, flow)
        except Exception:
            # A bug in the handler must not tear down the flow (and with it a phone's
            # registration) or stop the UDP reader; it is logged with its traceback.
            log.exception("on_message failed for a message on flow %s", flow.flow_id)

    # -- internals ---------------------------------------------------------------

    def _udp_for(self, host: str) -> UdpEndpoint:
        family = address_family(host)
        for local, endpoint in self._udp.items():
            if address_family(local[0]) == family:
                return endpoint
        raise NoListenerError(f"no UDP listener for the address family of {host}")

    async def _connect(
        self, kind: TransportKind, addr: Address, server_hostname: str | None
    ) -> Connection:
        key = (kind, addr)
        pending = self._connecting.get(key)
        if pending is not None:  # another send is already connecting there: share it
            return await asyncio.shield(pending)
        future: asyncio.Future[Connection] = self._loop.create_future()
        self._connecting[key] = future
        try:
            ssl_context = None
            if kind is TransportKind.TLS:
                ssl_context = self._client_ssl or ssl.create_default_context()
            try:
                async with asyncio.timeout(self._connect_timeout):
                    _, connection = await self._loop.create_connection(
                        lambda: StreamConnection(self, kind, self._max),
                        addr[0],
                        addr[1],
                        ssl=ssl_context,
                        server_hostname=(server_hostname or addr[0]) if ssl_context else None,
                    )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                error = TransportError(f"cannot connect {kind.via_token} to {addr}: {exc}")
                future.set_exception(error)
                future.exception()  # retrieved here; waiters get it through shield
                raise error from exc
            future.set_result(connection)
            self._schedule_reaper()
            return connection
        finally:
            del self._connecting[key]

    def _schedule_reaper(self) -> None:
        if self._reaper is None and not self._closed:
            # A flow is reaped between idle_timeout and 1.25 x idle_timeout after its
            # last message; checking more often would buy precision nobody needs.
            self._reaper = self._loop.call_later(self._idle_timeout / 4, self._reap)

    def _reap(self) -> None:
        self._reaper = None
        deadline = self.now() - self._idle_timeout
        for connection in list(self._flows.values()):
            if connection.last_activity <= deadline:
                connection.close(f"idle for {self._idle_timeout:g} s")
        self._schedule_reaper()


def _ip_literal(host: str) -> str:
    """An IP address from ``host``, which may be an IPv6 reference (``[::1]``)."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        raise ValueError(f"send_to needs an IP address, not {host!r}: resolve it first") from None

"""asyncio adapter for SIP over WebSocket (RFC 7118) on aiohttp.

Each WebSocket message (text or binary frame sequence) carries exactly one SIP message
(RFC 7118 §5), so no stream framing is needed. The handshake must negotiate the ``sip``
subprotocol (§4.1); we refuse upgrades that do not offer it, with a response saying why.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiohttp import WSMsgType, web

from centralino.sip.transport.connection import Connection, ConnectionOwner, peer_address
from centralino.sip.transport.flow import Address, Flow, FlowClosedError, TransportKind

__all__ = ["SUBPROTOCOL", "WebSocketConnection", "WebSocketListener"]

log = logging.getLogger(__name__)

SUBPROTOCOL = "sip"


class WebSocketConnection(Connection):
    def __init__(self, owner: ConnectionOwner, ws: web.WebSocketResponse, flow: Flow) -> None:
        self._owner = owner
        self._ws = ws
        self.flow = flow
        self.last_activity = owner.now()
        self.close_reason: str | None = None
        self._closing: asyncio.Task[bool] | None = None

    async def write(self, data: bytes) -> None:
        if self._ws.closed:
            raise FlowClosedError(self.flow.flow_id)
        self.last_activity = self._owner.now()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            await self._ws.send_bytes(data)  # a binary body: RFC 7118 §5.1 allows binary frames
        else:
            await self._ws.send_str(text)

    def close(self, reason: str | None = None) -> None:
        if reason is not None and self.close_reason is None:
            self.close_reason = reason
        if not self._ws.closed and self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._ws.close())

    async def shutdown(self, reason: str) -> None:
        """Close and wait for the closing handshake."""
        self.close(reason)
        if self._closing is not None:
            await self._closing


def _offers_sip(request: web.Request) -> bool:
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return SUBPROTOCOL in (p.strip().lower() for p in offered.split(","))


class WebSocketListener:
    """An HTTP(S) server accepting SIP WebSocket upgrades on any path."""

    def __init__(
        self,
        owner: ConnectionOwner,
        kind: TransportKind,
        max_message_size: int,
    ) -> None:
        self._owner = owner
        self._kind = kind
        self._max = max_message_size
        self._connections: set[WebSocketConnection] = set()
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.local: Address = ("", 0)

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        self.local = peer_address(self._runner.addresses[0])

    async def close(self) -> None:
        await asyncio.gather(*(c.shutdown("listener closed") for c in list(self._connections)))
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not _offers_sip(request):
            return web.Response(
                status=400, text="SIP over WebSocket needs the 'sip' subprotocol (RFC 7118)\n"
            )
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), max_msg_size=self._max)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        flow = Flow(
            kind=self._kind,
            local=peer_address(transport.get_extra_info("sockname")),
            remote=peer_address(transport.get_extra_info("peername")),
            flow_id=self._owner.new_flow_id(self._kind),
        )
        connection = WebSocketConnection(self._owner, ws, flow)
        self._connections.add(connection)
        self._owner.connection_opened(connection)
        reason = "closed by peer"
        try:
            async for msg in ws:
                connection.last_activity = self._owner.now()
                if msg.type is WSMsgType.TEXT:
                    data = msg.data.encode("utf-8")
                elif msg.type is WSMsgType.BINARY:
                    data = msg.data
                else:  # ERROR: aiohttp closes the socket after yielding it
                    reason = f"WebSocket error: {ws.exception()}"
                    continue
                if data.strip(b"\r\n"):
                    self._owner.message_received(data, flow)
        finally:
            self._connections.discard(connection)
            self._owner.connection_closed(connection, connection.close_reason or reason)
        return ws

"""asyncio adapter for SIP over TCP and TLS: a Protocol around :class:`StreamFramer`."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from centralino.sip.transport.connection import Connection, ConnectionOwner, peer_address
from centralino.sip.transport.flow import Flow, FlowClosedError, TransportKind
from centralino.sip.transport.framing import PONG, FramingError, KeepAlivePing, StreamFramer

__all__ = ["MAX_WRITE_BUFFER", "StreamConnection"]

log = logging.getLogger(__name__)

# A peer that stops reading would make us buffer every message sent to it forever. SIP
# traffic to one phone never legitimately queues a megabyte, so past that the flow is
# declared dead (the caller sees FlowClosedError and can fail over, RFC 3263 §4.3).
MAX_WRITE_BUFFER = 1024 * 1024


class StreamConnection(asyncio.Protocol, Connection):
    """One TCP or TLS connection, accepted or opened by us."""

    def __init__(self, owner: ConnectionOwner, kind: TransportKind, max_message_size: int) -> None:
        self._owner = owner
        self._kind = kind
        self._framer = StreamFramer(max_message_size)
        self._transport: asyncio.Transport | None = None
        self._close_reason: str | None = None
        self.last_activity = owner.now()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self.flow = Flow(
            kind=self._kind,
            local=peer_address(transport.get_extra_info("sockname")),
            remote=peer_address(transport.get_extra_info("peername")),
            flow_id=self._owner.new_flow_id(self._kind),
        )
        self.last_activity = self._owner.now()
        self._owner.connection_opened(self)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self._owner.now()
        self._framer.receive_data(data)
        while True:
            try:
                event = self._framer.next_event()
            except FramingError as exc:
                log.warning(
                    "closing %s flow %s from %s: %s",
                    self._kind,
                    self.flow.flow_id,
                    self.flow.remote,
                    exc.reason,
                )
                self._close_reason = f"framing error: {exc.reason}"
                self.close()
                return
            if event is None:
                return
            if isinstance(event, KeepAlivePing):
                assert self._transport is not None
                self._transport.write(PONG)
            else:
                self._owner.message_received(event.data, self.flow)

    def eof_received(self) -> bool | None:
        self._close_reason = self._close_reason or "closed by peer"
        return None  # let asyncio close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self._close_reason or (str(exc) if exc else "closed")
        self._transport = None
        self._owner.connection_closed(self, reason)

    async def write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise FlowClosedError(self.flow.flow_id)
        if self._transport.get_write_buffer_size() + len(data) > MAX_WRITE_BUFFER:
            self._close_reason = "peer is not reading"
            self._transport.abort()
            raise FlowClosedError(self.flow.flow_id)
        self.last_activity = self._owner.now()
        self._transport.write(data)

    def close(self, reason: str | None = None) -> None:
        if reason is not None and self._close_reason is None:
            self._close_reason = reason
        if self._transport is not None:
            self._transport.close()

"""SIP on the router's internal UDP listener: the asyncio adapter of the SIP core's
transaction layer (RFC 3261 §17 with the RFC 6026 Accepted state).

The core matches messages to transactions, absorbs retransmitted requests (answering
them with the last response), retransmits our requests and non-2xx finals, ACKs the
non-2xx answers we get and times out. This adapter feeds it datagrams and the loop's
clock, puts what it emits on the wire, and hands requests and responses to the B2BUA.
What stays with the B2BUA (the transaction user) is what RFC 3261 leaves to it: the
retransmission of a 2xx to an INVITE until the ACK (§13.3.1.4), and the ACK of a 2xx.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from centralino.sip import (
    DEFAULT_TIMERS,
    ClientTransaction,
    LocalProtocolError,
    RequestReceived,
    Response,
    ResponseReceived,
    ServerTransaction,
    SipError,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimeout,
    build_cancel,
    parse_message,
    tracecontext,
    try_build_400,
)
from centralino.sip.transport import (
    Address,
    Flow,
    TransportError,
    TransportKind,
    TransportManager,
)
from centralino_router import tracing
from centralino_router.sipmsg import MAX_MESSAGE, SipMessage, new_branch

log = logging.getLogger(__name__)

T1 = DEFAULT_TIMERS.t1
T2 = DEFAULT_TIMERS.t2
TIMEOUT = DEFAULT_TIMERS.timeout  # 64*T1

ResponseHandler = Callable[[SipMessage], None]


@dataclass(frozen=True, slots=True)
class Inbound:
    """Where a request came from, and the server transaction to answer it on (``None``
    for the ACK of a 2xx, which has none)."""

    flow_id: str
    transaction: ServerTransaction | None = None


RequestHandler = Callable[[SipMessage, Inbound], None]


class Retransmit:
    """Resend at T1, 2*T1... capped at T2 until stopped; gives up after 64*T1 and then
    calls ``on_timeout`` when one is given (RFC 3261 §13.3.1.4, the 2xx the UAS core
    repeats until the ACK)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: Callable[[], None],
        on_timeout: Callable[[], None] | None = None,
    ) -> None:
        self._send = send
        self._interval = T1
        self._loop = loop
        self._on_timeout = on_timeout
        self._timer: asyncio.TimerHandle | None = loop.call_later(T1, self._fire)
        self._deadline: asyncio.TimerHandle | None = loop.call_later(TIMEOUT, self._expire)

    def _fire(self) -> None:
        self._send()
        self._interval = min(self._interval * 2, T2)
        self._timer = self._loop.call_later(self._interval, self._fire)

    def _expire(self) -> None:
        self._deadline = None
        self.stop()
        if self._on_timeout is not None:
            self._on_timeout()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class Wire:
    """The router's SIP socket around one transaction layer."""

    def __init__(
        self,
        transport: TransportManager,
        advertised: Address,
        on_request: RequestHandler,
        on_stray_response: ResponseHandler,
    ) -> None:
        self.transport = transport
        self.advertised = advertised
        self.loop = asyncio.get_running_loop()
        self.layer = TransactionLayer()
        self._on_request = on_request
        self._on_stray = on_stray_response
        self._handlers: dict[int, ResponseHandler] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None

    @property
    def via(self) -> str:
        host, port = self.advertised
        return f"SIP/2.0/UDP {host}:{port};rport"

    @property
    def contact(self) -> str:
        host, port = self.advertised
        return f"<sip:router@{host}:{port}>"

    # -- input ---------------------------------------------------------------------------

    def datagram(self, data: bytes, flow: Flow) -> None:
        if not data.strip():
            return  # keep-alive
        if len(data) > MAX_MESSAGE:
            log.info("dropping a %d-byte message from %s", len(data), flow.remote)
            return
        try:
            message = parse_message(data)
            message.validate()
            self.layer.receive(
                message, self.loop.time(), reliable=flow.kind.reliable, source=flow.flow_id
            )
        except SipError as exc:
            # a request with enough intact headers gets its 400; anything else is dropped
            reply = try_build_400(data, exc)
            log.info("unusable message from %s: %s", flow.remote, exc)
            if reply is not None:
                self._send_to_flow(reply, flow.flow_id)
            return
        self._pump()

    def _pump(self) -> None:
        while (event := self.layer.next_event()) is not None:
            if isinstance(event, RequestReceived):
                source = event.source if isinstance(event.source, str) else ""
                self._on_request(
                    SipMessage.from_core(event.request), Inbound(source, event.transaction)
                )
            elif isinstance(event, ResponseReceived):
                response = SipMessage.from_core(event.response)
                handler = self._handlers.get(id(event.transaction)) if event.transaction else None
                (handler or self._on_stray)(response)
            elif isinstance(event, TransactionTimeout):
                self._timed_out(event.transaction)
            elif isinstance(event, TransactionTerminated):
                self._handlers.pop(id(event.transaction), None)
        for out in self.layer.messages_to_send():
            data = out.message.serialize()
            if isinstance(out.destination, str):
                self._send_to_flow(data, out.destination)
            elif isinstance(out.destination, tuple):
                self.loop.create_task(self._send_to(data, out.destination))
        self._schedule()

    def _timed_out(self, txn: ClientTransaction | ServerTransaction) -> None:
        handler = self._handlers.pop(id(txn), None)
        if handler is None or not isinstance(txn, ClientTransaction):
            return  # a server transaction that never got its ACK: nothing to tell
        request = SipMessage.from_core(txn.request)
        handler(SipMessage(status=408, reason="Request Timeout", headers=request.headers))

    def _schedule(self) -> None:
        deadline = self.layer.get_timer()
        if deadline == self._deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = deadline
        self._timer = None if deadline is None else self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        if self._deadline is None:
            return  # closed
        self._timer = None
        self._deadline = None
        self.layer.handle_timer(self.loop.time())
        self._pump()

    # -- output --------------------------------------------------------------------------

    def _send_to_flow(self, data: bytes, flow_id: str) -> None:
        self.loop.create_task(self._reply(data, flow_id))

    async def _reply(self, data: bytes, flow_id: str) -> None:
        try:
            await self.transport.send(data, flow_id)
        except (TransportError, OSError) as exc:
            log.warning("cannot answer on flow %s: %s", flow_id, exc)

    async def _send_to(self, data: bytes, addr: Address) -> None:
        try:
            await self.transport.send_to(TransportKind.UDP, addr, data)
        except (TransportError, OSError) as exc:
            log.warning("cannot send to %s:%s: %s", addr[0], addr[1], exc)

    def reply(self, response: SipMessage, inbound: Inbound) -> None:
        """Answer on the request's server transaction while it lives, else statelessly
        over the flow the request came on (a 2xx repeated after Timer L)."""
        tracing.inject(response)
        core = Response(response.status, response.reason, response.headers, response.body)
        txn = inbound.transaction
        if txn is not None and not txn.terminated:
            try:
                self.layer.send_response(txn, core, self.loop.time())
            except LocalProtocolError as exc:
                log.debug("response not sent on its transaction: %s", exc)
        else:
            self.layer.send_stateless(core, inbound.flow_id)
        self._pump()

    def send_request(
        self, request: SipMessage, addr: Address, handler: ResponseHandler
    ) -> ClientTransaction:
        """Send a request with a fresh top Via in a client transaction; every response
        (and a 408 on Timer B/F) goes to ``handler``."""
        tracing.inject(request)
        request.add("Via", f"{self.via};branch={new_branch()}", first=True)
        txn = self.layer.send_request(
            request.as_request(), self.loop.time(), reliable=False, destination=addr
        )
        self._handlers[id(txn)] = handler
        self._pump()
        return txn

    def send_stateless(self, request: SipMessage, addr: Address) -> None:
        """The ACK of a 2xx: end to end, outside any transaction."""
        tracing.inject(request)
        request.add("Via", f"{self.via};branch={new_branch()}", first=True)
        self.layer.send_stateless(request.as_request(), addr)
        self._pump()

    def cancel(self, invite: ClientTransaction, reason: str, addr: Address) -> None:
        """CANCEL an INVITE we sent (RFC 3261 §9.1), in its own client transaction."""
        cancel = build_cancel(invite.request)
        cancel.headers.add("Reason", reason)
        tracecontext.strip(cancel.headers)
        tracecontext.inject(cancel.headers)
        txn = self.layer.send_request(cancel, self.loop.time(), reliable=False, destination=addr)
        self._handlers[id(txn)] = lambda _response: None
        self._pump()

    def close(self) -> None:
        """Stop the transaction timers (the transport is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = None

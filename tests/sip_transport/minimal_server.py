"""A minimal SIP server on the stack: transports + the core's parser and make_response.

Enough of a UAS to be driven by real clients: OPTIONS 200; REGISTER 200 echoing each
Contact with its expiry (bindings are only reported, not stored); INVITE 100, 180 and 200
with an SDP answer, the 200 repeated over UDP until its ACK arrives (RFC 3261 §13.3.1.4:
a lost 200 would otherwise leave the caller waiting forever, since the 100 stopped its
INVITE retransmissions); BYE and CANCEL 200; anything else 501. Requests that
parse but have a broken header get a 400 whose reason names the header; bytes that are
not a request at all are dropped. It keeps almost no transaction state: responses are a
pure function of the request (the To tag is derived from the Call-ID), so a retransmitted
request simply gets the same answer again; only a retransmitted INVITE gets just the last
response again (RFC 3261 §17.2.1), since replaying 100 and 180 would reach a caller that
has moved on.

It can also send OPTIONS to a registered client over the flow it registered on (REG-01).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from centralino.sip.errors import SipError
from centralino.sip.ids import generate_branch, generate_call_id, generate_tag
from centralino.sip.message import Request, Response, parse_message
from centralino.sip.responses import make_response, try_build_400
from centralino.sip.transport import Address, Flow, Listener, TransportKind, TransportManager

log = logging.getLogger(__name__)

DEFAULT_EXPIRES = 3600
T1, T2 = 0.5, 4.0  # RFC 3261 §17.1.1.1 timer values
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER"


@dataclass(frozen=True, slots=True)
class Registration:
    aor: str
    contact: str
    expires: int
    flow: Flow


def _host(addr: Address) -> str:
    return f"[{addr[0]}]" if ":" in addr[0] else addr[0]


class MinimalServer:
    def __init__(self, *, idle_timeout: float = 900.0) -> None:
        self.manager = TransportManager(self._on_message, idle_timeout=idle_timeout)
        self._listeners: dict[TransportKind, Listener] = {}
        self._registrations: asyncio.Queue[Registration] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[tuple[int, Flow]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._bindings: dict[str, str] = {}  # flow id -> the Contact registered on it
        self._unacked: dict[str, asyncio.TimerHandle] = {}  # Call-ID -> 200 retransmission
        self._answered: dict[str, bytes] = {}  # Call-ID -> last response to its INVITE

    async def listen(
        self,
        kind: TransportKind | str,
        host: str,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Listener:
        listener = await self.manager.listen(kind, host, port, ssl_context)
        self._listeners.setdefault(listener.kind, listener)
        return listener

    def address(self, kind: TransportKind) -> Address:
        return self._listeners[kind].local

    async def next_registration(self, timeout: float = 10.0) -> Registration:
        async with asyncio.timeout(timeout):
            return await self._registrations.get()

    async def request_over_flow(
        self, flow_id: str, method: str = "OPTIONS", timeout: float = 10.0
    ) -> tuple[int, Flow]:
        """Send ``method`` to the client at the other end of a flow; (final status, flow)."""
        flow = self.manager.flow(flow_id)
        if flow is None:
            raise LookupError(f"flow {flow_id} is gone")
        # The client's registered Contact when it has one; otherwise its address.
        target = self._bindings.get(flow_id) or f"sip:{_host(flow.remote)}:{flow.remote[1]}"
        branch = generate_branch()
        local = _host(flow.local)
        request = Request(
            method,
            target,
            [
                ("Via", f"SIP/2.0/{flow.kind.via_token} {local}:{flow.local[1]};branch={branch}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:pbx@{local}>;tag={generate_tag()}"),
                ("To", f"<{target}>"),
                ("Call-ID", generate_call_id(local)),
                ("CSeq", f"1 {method}"),
            ],
        )
        future: asyncio.Future[tuple[int, Flow]] = asyncio.get_running_loop().create_future()
        self._waiting[branch] = future
        try:
            await self.manager.send(request.serialize(), flow_id)
            async with asyncio.timeout(timeout):
                return await future
        finally:
            del self._waiting[branch]

    async def close(self) -> None:
        for timer in self._unacked.values():
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.manager.close()

    # -- receiving ---------------------------------------------------------------

    def _on_message(self, data: bytes, flow: Flow) -> None:
        try:
            message = parse_message(data)
            if isinstance(message, Request):
                message.validate()
        except SipError as exc:
            reply = try_build_400(data, exc)
            log.info(
                "bad message from %s: %s (%s)",
                flow.remote,
                exc.reason,
                "answered" if reply else "dropped",
            )
            if reply is not None:
                self._spawn(self.manager.send(reply, flow.flow_id))
            return
        if isinstance(message, Response):
            self._response(message, flow)
        else:
            self._spawn(self._request(message, flow))

    def _response(self, response: Response, flow: Flow) -> None:
        if response.status < 200:
            return
        future = self._waiting.get(response.top_via.branch or "")
        if future is not None and not future.done():
            future.set_result((response.status, flow))

    async def _request(self, request: Request, flow: Flow) -> None:
        method = request.method
        if method == "ACK":
            timer = self._unacked.pop(request.call_id, None)
            if timer is not None:
                timer.cancel()
            return
        if method == "INVITE":
            await self._invite(request, flow)
        elif method == "REGISTER":
            await self._send(self._register(request, flow), flow)
        elif method in ("OPTIONS", "BYE", "CANCEL"):
            response = make_response(request, 200, to_tag=self._tag(request))
            if method == "OPTIONS":
                response.headers.add("Allow", ALLOW)
                response.headers.add("Accept", "application/sdp")
            await self._send(response, flow)
        else:
            response = make_response(request, 501, to_tag=self._tag(request))
            response.headers.add("Allow", ALLOW)
            await self._send(response, flow)

    async def _invite(self, request: Request, flow: Flow) -> None:
        call_id = request.call_id
        last = self._answered.get(call_id)
        if last is not None:  # a retransmission
            await self.manager.send(last, flow.flow_id)
            return
        tag = self._tag(request)
        await self._send(make_response(request, 100), flow)
        await self._send(make_response(request, 180, to_tag=tag), flow)
        ok = make_response(request, 200, to_tag=tag)
        ok.headers.add("Contact", f"<{self._our_contact(flow)}>")
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = self._sdp_answer(flow)
        data = ok.serialize()
        await self.manager.send(data, flow.flow_id)
        loop = asyncio.get_running_loop()
        # Remember the answer for as long as the caller may retransmit (Timer B, 64*T1).
        self._answered[call_id] = data
        loop.call_later(64 * T1, self._answered.pop, call_id, None)
        if flow.kind is TransportKind.UDP:
            self._repeat_2xx(call_id, data, flow, T1, loop.time() + 64 * T1)

    def _register(self, request: Request, flow: Flow) -> Response:
        response = make_response(request, 200, to_tag=self._tag(request))
        default = request.expires if request.expires is not None else DEFAULT_EXPIRES
        to = request.to.uri
        aor = f"{to.scheme}:{to.user}@{to.host}" if to.user else f"{to.scheme}:{to.host}"
        for contact in request.contacts:
            expires = int(contact.params.get("expires") or default)
            contact.params["expires"] = str(expires)
            response.headers.add("Contact", str(contact))
            if expires > 0:
                self._bindings[flow.flow_id] = str(contact.uri)
                self._registrations.put_nowait(Registration(aor, str(contact.uri), expires, flow))
        return response

    def _repeat_2xx(
        self, call_id: str, data: bytes, flow: Flow, interval: float, deadline: float
    ) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() >= deadline:
            self._unacked.pop(call_id, None)
            return
        self._unacked[call_id] = loop.call_later(
            interval, self._resend_2xx, call_id, data, flow, min(interval * 2, T2), deadline
        )

    def _resend_2xx(
        self, call_id: str, data: bytes, flow: Flow, interval: float, deadline: float
    ) -> None:
        self._spawn(self.manager.send(data, flow.flow_id))
        self._repeat_2xx(call_id, data, flow, interval, deadline)

    # -- helpers -----------------------------------------------------------------

    async def _send(self, response: Response, flow: Flow) -> None:
        await self.manager.send(response.serialize(), flow.flow_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling a message failed", exc_info=task.exception())

    @staticmethod
    def _our_contact(flow: Flow) -> str:
        return f"sip:{_host(flow.local)}:{flow.local[1]};transport={flow.kind.value}"

    @staticmethod
    def _tag(request: Request) -> str:
        return hashlib.sha1(request.call_id.encode()).hexdigest()[:16]

    @staticmethod
    def _sdp_answer(flow: Flow) -> bytes:
        ip = flow.local[0]
        family = "IP6" if ":" in ip else "IP4"
        return (
            f"v=0\r\no=- 1 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n"
            "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ).encode()

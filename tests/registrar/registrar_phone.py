"""A tiny SIP phone for protocol-level tests (UDP or TCP), built on the SIP core.

Real clients (SIPp, baresip) cover the end-to-end paths; this one exists for what they
cannot be told to do: lie in Via/Contact (NAT tests), send exact header combinations,
or check every byte of an answer.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass, field

from centralino.sip import Request, Response, generate_branch, generate_tag, parse_message
from centralino.sip.digest import build_authorization
from centralino.sip.transport import StreamFramer, StreamMessage


@dataclass
class Phone:
    pbx: tuple[str, int]
    username: str
    password: str
    transport: str = "udp"
    user_agent: str = "centralino-test-phone"
    call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    cseq: int = 0
    tag: str = field(default_factory=generate_tag)
    local: tuple[str, int] = ("127.0.0.1", 0)

    async def open(self) -> Phone:
        loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[Request | Response] = asyncio.Queue()
        if self.transport == "udp":
            self.datagrams = _Datagrams(self.inbox)
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: self.datagrams, local_addr=("127.0.0.1", 0)
            )
            self.local = self._udp.get_extra_info("sockname")[:2]
        else:
            self._reader, self._writer = await asyncio.open_connection(*self.pbx)
            self.local = self._writer.get_extra_info("sockname")[:2]
            self._pump = asyncio.create_task(self._read_stream())
        return self

    async def _read_stream(self) -> None:
        framer = StreamFramer(65536)
        while data := await self._reader.read(65536):
            framer.receive_data(data)
            while (event := framer.next_event()) is not None:
                if isinstance(event, StreamMessage):
                    self.inbox.put_nowait(parse_message(event.data))

    def close(self) -> None:
        if self.transport == "udp":
            self._udp.close()
        else:
            self._pump.cancel()
            self._writer.close()

    def send(self, message: Request | Response | bytes) -> None:
        data = message if isinstance(message, bytes) else message.serialize()
        if self.transport == "udp":
            self._udp.sendto(data, self.pbx)
        else:
            self._writer.write(data)

    async def receive(self, timeout: float = 5.0) -> Request | Response:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def response(self, timeout: float = 5.0) -> Response:
        while True:
            message = await self.receive(timeout)
            if isinstance(message, Response) and message.status >= 200:
                return message

    async def request_in(self, timeout: float = 5.0) -> Request:
        while True:
            message = await self.receive(timeout)
            if isinstance(message, Request):
                return message

    def build(
        self,
        method: str,
        uri: str,
        *,
        to: str | None = None,
        via: str | None = None,
        contact: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Request:
        self.cseq += 1
        host, port = self.local
        via_value = via or f"SIP/2.0/{self.transport.upper()} {host}:{port};rport"
        request = Request(
            method,
            uri,
            [
                ("Via", f"{via_value};branch={generate_branch()}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{self.username}@{self.pbx[0]}>;tag={self.tag}"),
                ("To", to or f"<sip:{self.username}@{self.pbx[0]}>"),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.cseq} {method}"),
                ("User-Agent", self.user_agent),
            ],
            body,
        )
        if contact is not None:
            request.headers.add("Contact", contact)
        for name, value in headers or []:
            request.headers.add(name, value)
        return request

    def contact_uri(self) -> str:
        host, port = self.local
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{self.username}@{host}:{port}{suffix}"

    async def authed(self, request: Request, password: str | None = None) -> Response:
        """Send, answer one 401/407 challenge, return the final response."""
        self.send(request)
        first = await self.response()
        if first.status not in (401, 407):
            return first
        header = "WWW-Authenticate" if first.status == 401 else "Proxy-Authenticate"
        challenge = first.headers.get_all(header)[0]
        retry = request.copy()
        self.cseq += 1
        retry.headers.set("CSeq", f"{self.cseq} {request.method}")
        top = request.top_via.copy()
        top.params["branch"] = generate_branch()
        retry.headers.set("Via", str(top))
        name = "Authorization" if first.status == 401 else "Proxy-Authorization"
        retry.headers.add(
            name,
            build_authorization(
                challenge,
                method=request.method,
                uri=request.uri_text,
                username=self.username,
                password=password if password is not None else self.password,
                cnonce=secrets.token_hex(4),
            ),
        )
        self.send(retry)
        return await self.response()

    async def register(
        self,
        expires: int | None = 300,
        *,
        contact: str | None = None,
        via: str | None = None,
        password: str | None = None,
    ) -> Response:
        headers = [("Expires", str(expires))] if expires is not None else []
        request = self.build(
            "REGISTER",
            f"sip:{self.pbx[0]}:{self.pbx[1]}",
            via=via,
            contact=contact or f"<{self.contact_uri()}>",
            headers=headers,
        )
        return await self.authed(request, password)

    def answer(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        body: bytes = b"",
        to_tag: str | None = None,
    ) -> Response:
        from centralino.sip import make_response

        response = make_response(request, status, reason, to_tag=to_tag or self.tag)
        for value in request.headers.get_all("Record-Route"):
            response.headers.add("Record-Route", value)
        response.headers.add("Contact", f"<{self.contact_uri()}>")
        response.body = body
        self.send(response)
        return response


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[Request | Response]) -> None:
        self.inbox = inbox
        self.keepalives: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data.strip(b"\r\n"):
            self.inbox.put_nowait(parse_message(data))
        else:
            self.keepalives.put_nowait(data)


class RouterPeer:
    """Stands where the router listens: receives what the registrar proxies, sends
    requests towards phones through the registrar's internal listener."""

    def __init__(self, address: tuple[str, int], registrar_internal: tuple[str, int]) -> None:
        self.address = address
        self.internal = registrar_internal

    async def open(self, sock: socket.socket | None = None) -> RouterPeer:
        loop = asyncio.get_running_loop()
        self.inbox: asyncio.Queue[Request | Response] = asyncio.Queue()
        if sock is not None:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self.inbox), sock=sock
            )
        else:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self.inbox), local_addr=self.address
            )
        return self

    def close(self) -> None:
        self._udp.close()

    def send(self, message: Request | Response, to: tuple[str, int] | None = None) -> None:
        self._udp.sendto(message.serialize(), to or self.internal)

    async def request_in(self, timeout: float = 5.0) -> Request:
        while True:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
            if isinstance(message, Request):
                return message

    async def response(self, timeout: float = 5.0, final: bool = True) -> Response:
        while True:
            message = await asyncio.wait_for(self.inbox.get(), timeout)
            if isinstance(message, Response) and (message.status >= 200 or not final):
                return message

    def answer(self, request: Request, status: int, to_tag: str = "routertag") -> None:
        from centralino.sip import make_response

        response = make_response(request, status, to_tag=to_tag)
        for value in request.headers.get_all("Record-Route"):
            response.headers.add("Record-Route", value)
        response.headers.add("Contact", f"<sip:router@{self.address[0]}:{self.address[1]}>")
        via = request.top_via
        self._udp.sendto(
            response.serialize(), (via.received or via.host, via.rport or via.port or 5060)
        )

    def invite(
        self,
        username: str,
        call_id: str = "",
        headers: list[tuple[str, str]] | None = None,
        method: str = "INVITE",
        to_tag: str | None = None,
        routes: list[str] | None = None,
        uri: str | None = None,
    ) -> Request:
        host, port = self.address
        ih, ip = self.internal
        request = Request(
            method,
            uri or f"sip:{username}@{ih}:{ip}",
            [
                ("Via", f"SIP/2.0/UDP {host}:{port};branch={generate_branch()}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:caller@{host}>;tag=routerfrom"),
                ("To", f"<sip:{username}@{ih}>" + (f";tag={to_tag}" if to_tag else "")),
                ("Call-ID", call_id or secrets.token_hex(8)),
                ("CSeq", f"1 {method}"),
                ("Contact", f"<sip:router@{host}:{port}>"),
                ("X-Centralino-Account", username),
            ],
        )
        for route in routes or []:
            request.headers.add("Route", route)
        for name, value in headers or []:
            request.headers.add(name, value)
        self.send(request)
        return request

"""A phone scripted step by step over UDP, for what one SIPp scenario cannot do: hold two
dialogs at once and name one in the other (an attended transfer's Replaces).

It speaks plain RFC 3261 over a real socket to the router; messages are parsed and built
with the router's own message type, and every step waits for a message, not a delay.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from centralino_router.sipmsg import SipMessage, response_to, tag_of, uri_of

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 36990 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
)


@dataclass
class Leg:
    """One dialog of the phone: what it needs to send requests in it."""

    call_id: str
    local: str  # our From/To value, with our tag
    remote: str  # theirs, with their tag
    target: str  # Request-URI: the peer's Contact
    cseq: int = 1

    @property
    def local_tag(self) -> str:
        return tag_of(self.local) or ""

    @property
    def remote_tag(self) -> str:
        return tag_of(self.remote) or ""


@dataclass
class ScriptedPhone(asyncio.DatagramProtocol):
    account: str
    tenant: str
    inbox: asyncio.Queue[SipMessage] = field(default_factory=asyncio.Queue)
    transport: asyncio.DatagramTransport | None = None
    #: where each received message came from, to answer it there
    sources: dict[int, str] = field(default_factory=dict)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = SipMessage.parse(data)
        self.sources[id(message)] = f"{addr[0]}:{addr[1]}"
        self.inbox.put_nowait(message)

    @property
    def address(self) -> str:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    def send(self, message: SipMessage, to: str) -> None:
        assert self.transport is not None
        host, port = to.rsplit(":", 1)
        self.transport.sendto(message.encode(), (host, int(port)))

    async def expect(self, what: str | int, timeout: float = 10) -> SipMessage:
        """The next request ``what`` (a method) or final response ``what`` (a status);
        provisional responses are skipped, anything else fails the test."""
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), timeout)
            if msg.status and msg.status < 200 and what != msg.status:
                continue
            found = msg.method if isinstance(what, str) else msg.status
            assert found == what, f"expected {what}, got {msg.method or msg.status}: {msg}"
            return msg

    async def expect_request(self, timeout: float = 10) -> SipMessage:
        """The next request, whatever its method (responses are skipped)."""
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), timeout)
            if msg.method:
                return msg

    def _via(self) -> str:
        return f"SIP/2.0/UDP {self.address};rport;branch=z9hG4bK{uuid.uuid4().hex[:12]}"

    def reply(
        self, request: SipMessage, status: int, reason: str, router: str = "", **kw: object
    ) -> None:
        """Answer ``request``; by default where it came from."""
        to = router or self.sources[id(request)]
        self.send(response_to(request, status, reason, **kw), to)  # type: ignore[arg-type]

    async def answer(self, router: str) -> Leg:
        """Take an incoming call: 200 with SDP, then its ACK."""
        invite = await self.expect("INVITE")
        tag = uuid.uuid4().hex[:8]
        contact = ("Contact", f"<sip:{self.account}@{self.address}>")
        extra = [contact, ("Content-Type", "application/sdp")]
        self.reply(invite, 200, "OK", router, to_tag=tag, extra=extra, body=SDP)
        await self.expect("ACK")
        return Leg(
            call_id=invite.call_id,
            local=f"{invite.require('To')};tag={tag}",
            remote=invite.require("From"),
            target=uri_of(invite.require("Contact")),
        )

    def request(self, leg: Leg, method: str, router: str, extra: list[tuple[str, str]]) -> None:
        leg.cseq += 1
        req = SipMessage(method=method, uri=leg.target)
        req.headers = [
            ("Via", self._via()),
            ("Max-Forwards", "70"),
            ("From", leg.local),
            ("To", leg.remote),
            ("Call-ID", leg.call_id),
            ("CSeq", f"{leg.cseq} {method}"),
            *extra,
        ]
        self.send(req, router)

    def invite(self, dialled: str, router: str) -> tuple[SipMessage, str]:
        """Place a call through the router as the SIP edge would relay it."""
        tag = uuid.uuid4().hex[:8]
        req = SipMessage(method="INVITE", uri=f"sip:{dialled}@{router}")
        req.headers = [
            ("Via", self._via()),
            ("Max-Forwards", "70"),
            ("From", f"<sip:{self.account}@{self.tenant}>;tag={tag}"),
            ("To", f"<sip:{dialled}@{self.tenant}>"),
            ("Call-ID", f"consult-{uuid.uuid4().hex}"),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<sip:{self.account}@{self.address}>"),
            ("X-Centralino-Account", self.account),
            ("X-Centralino-Tenant", self.tenant),
            ("Content-Type", "application/sdp"),
        ]
        req.body = SDP
        self.send(req, router)
        return req, tag

    def ack(self, invite: SipMessage, ok: SipMessage, router: str) -> Leg:
        leg = Leg(
            call_id=invite.call_id,
            local=invite.require("From"),
            remote=ok.require("To"),
            target=uri_of(ok.require("Contact")),
            cseq=0,
        )
        req = SipMessage(method="ACK", uri=leg.target)
        req.headers = [
            ("Via", self._via()),
            ("Max-Forwards", "70"),
            ("From", leg.local),
            ("To", leg.remote),
            ("Call-ID", leg.call_id),
            ("CSeq", "1 ACK"),
        ]
        self.send(req, router)
        leg.cseq = 1
        return leg

    def ack_refusal(self, invite: SipMessage, refusal: SipMessage, router: str) -> None:
        """ACK a non-2xx final response, inside the INVITE's transaction (same branch)."""
        req = SipMessage(method="ACK", uri=invite.uri)
        req.headers = [
            ("Via", invite.require("Via")),
            ("Max-Forwards", "70"),
            ("From", invite.require("From")),
            ("To", refusal.require("To")),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq[0]} ACK"),
        ]
        self.send(req, router)

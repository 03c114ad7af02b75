"""The router's internal listener under garbage and retransmissions (no crash, no hang)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from centralino_router.sipmsg import SipMessage, uri_of

from .conftest import Router, Tenant
from .sipp import Sipp, device_answers


class Peer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[SipMessage] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait(SipMessage.parse(data))


async def _peer(router: Router) -> tuple[asyncio.DatagramTransport, Peer]:
    host, port = router.address.split(":")
    transport, peer = await asyncio.get_running_loop().create_datagram_endpoint(
        Peer, remote_addr=(host, int(port))
    )
    return transport, peer  # type: ignore[return-value]


def _request(method: str, uri: str, extra: str = "", branch: str | None = None) -> bytes:
    branch = branch or f"z9hG4bK{uuid.uuid4().hex}"
    if method == "INVITE":
        extra += "Contact: <sip:peer@127.0.0.1:9>\r\n"
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch={branch}\r\n"
        f"From: <sip:x@t>;tag=1\r\nTo: <{uri}>\r\nCall-ID: {uuid.uuid4().hex}\r\n"
        f"CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode()


async def test_garbage_is_dropped_and_the_listener_keeps_serving(router: Router) -> None:
    transport, peer = await _peer(router)
    try:
        transport.sendto(b"\x00\xff garbage \r\n\r\n")
        transport.sendto(b"INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9\r\n\r\n")
        broken = _request("OPTIONS", "sip:router@x").replace(b"CSeq: 1 OPTIONS", b"CSeq: x")
        transport.sendto(broken)
        transport.sendto(_request("OPTIONS", "sip:router@x"))
        alive = await asyncio.wait_for(peer.inbox.get(), 5)
        assert alive.status == 200 and "INVITE" in (alive.get("Allow") or "")
    finally:
        transport.close()


async def test_invite_that_cannot_form_a_dialog_is_400(router: Router) -> None:
    transport, peer = await _peer(router)
    try:
        invite = _request("INVITE", "sip:201@x").replace(
            b"Contact: <sip:peer@127.0.0.1:9>\r\n", b""
        )
        transport.sendto(invite)
        assert (await asyncio.wait_for(peer.inbox.get(), 5)).status == 400
    finally:
        transport.close()


async def test_unknown_dialog_is_481(router: Router) -> None:
    transport, peer = await _peer(router)
    try:
        transport.sendto(
            _request("BYE", "sip:router@x").replace(b"<sip:router@x>", b"<sip:r@x>;tag=9")
        )
        assert (await asyncio.wait_for(peer.inbox.get(), 5)).status == 481
    finally:
        transport.close()


async def test_retransmitted_invite_is_one_call(router: Router, tenant: Tenant) -> None:
    """The same INVITE three times, then once more after the answer: the transaction
    layer repeats the last response, and only one call exists."""
    await tenant.extension("200")
    caller = await tenant.account("caller", "200")
    transport, peer = await _peer(router)
    identity = f"X-Centralino-Account: {caller}\r\nX-Centralino-Tenant: {tenant.name}\r\n"
    invite = _request("INVITE", f"sip:999@{tenant.name}", identity)
    try:
        for _ in range(3):
            transport.sendto(invite)
        statuses: list[int] = []
        while not statuses or statuses[-1] < 200:
            statuses.append((await asyncio.wait_for(peer.inbox.get(), 5)).status)
        assert statuses[-1] == 404 and set(statuses[:-1]) <= {100}
        transport.sendto(invite)  # the final answer is lost, the INVITE repeated
        assert (await asyncio.wait_for(peer.inbox.get(), 5)).status == 404
        ended = await tenant.events.ended()
        assert len(ended) == 1 and ended[0].sip_status == 404
    finally:
        transport.close()


async def test_2xx_is_retransmitted_until_the_caller_acks(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """RFC 3261 §13.3.1.4: no ACK yet, so the 200 comes again; after the ACK it stops."""
    await tenant.extension("200")
    caller = await tenant.account("caller", "200")
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_answers(0))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    transport, peer = await _peer(router)
    identity = f"X-Centralino-Account: {caller}\r\nX-Centralino-Tenant: {tenant.name}\r\n"
    invite = _request("INVITE", f"sip:201@{tenant.name}", identity)
    try:
        transport.sendto(invite)

        async def final() -> SipMessage:
            while (msg := await asyncio.wait_for(peer.inbox.get(), 5)).status < 200:
                pass
            return msg

        first = await final()
        again = await final()  # T1 later, unacknowledged
        assert first.status == again.status == 200
        assert first.to_tag == again.to_tag
        ack = SipMessage.parse(invite)
        ack.method, ack.uri = "ACK", uri_of(first.require("Contact"))
        ack.set("To", first.require("To"))
        ack.set("CSeq", "1 ACK")
        ack.body = b""
        transport.sendto(ack.encode())
        bye = SipMessage(method="BYE", uri=ack.uri, headers=list(ack.headers))
        bye.set("CSeq", "2 BYE")
        bye.set("Via", "SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbye")
        transport.sendto(bye.encode())
        answer = await asyncio.wait_for(peer.inbox.get(), 5)
        assert (answer.status, answer.cseq) == (200, (2, "BYE"))  # no third INVITE 200
        assert (await uas.wait()).ok
        (ended,) = await tenant.events.ended()
        assert ended.cause == "normal"
    finally:
        transport.close()

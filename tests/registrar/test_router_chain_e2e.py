"""The whole signalling chain: phone -> registrar -> router (real B2BUA) -> registrar -> phone.

Only the media service is left out: the accounts allow direct media, so the router does
not anchor the call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from registrar_harness import Pbx, registrar_env, running, unique
from registrar_phone import Phone

from centralino.runner.embedded import free_port
from centralino.sip.digest import build_authorization
from centralino_registrar.service import RegistrarService
from centralino_router.service import RouterService

pytestmark = pytest.mark.e2e

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 45990 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
)


@contextlib.asynccontextmanager
async def chain(pbx: Pbx, nats_url: str, database_url: str) -> AsyncIterator[RegistrarService]:
    """A router and a second registrar wired to each other (the first one, from the pbx
    fixture, keeps talking to its stand-in router and is not used here)."""
    internal = free_port()
    router_env = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
        "CENTRALINO_CONFIG_GRPC": pbx.env["CENTRALINO_CONFIG_GRPC"],
        "CENTRALINO_ROUTER_SIP": "127.0.0.1:0",
        "CENTRALINO_REGISTRAR_INTERNAL_SIP": f"127.0.0.1:{internal}",
        "CENTRALINO_MEDIA_GRPC": "127.0.0.1:1",
        "CENTRALINO_HEARTBEAT_SECONDS": "60",
        "CENTRALINO_LOG_FORMAT": "text",
    }
    async with running(RouterService, "router", router_env) as router:
        env = registrar_env(
            nats_url,
            pbx.env["CENTRALINO_CONFIG_GRPC"],
            ("127.0.0.1", router.sip_port),
            CENTRALINO_REGISTRAR_INTERNAL_SIP=f"127.0.0.1:{internal}",
            CENTRALINO_REGISTRAR_GRPC=f"127.0.0.1:{free_port()}",
        )
        async with running(RegistrarService, "registrar", env) as registrar:
            yield registrar


async def test_reg06_call_through_the_router_rings_only_the_last_device(
    pbx: Pbx, nats_url: str, database_url: str
) -> None:
    caller_user, callee_user = unique("2"), unique("2")
    await pbx.add_account(caller_user, "chainpw01", direct_media=True)
    await pbx.add_account(callee_user, "chainpw02", direct_media=True)
    async with chain(pbx, nats_url, database_url) as registrar:
        from centralino.sip.transport import TransportKind

        sip = registrar.listeners[TransportKind.UDP]
        old = await Phone(sip, callee_user, "chainpw02").open()
        new = await Phone(sip, callee_user, "chainpw02").open()
        caller = await Phone(sip, caller_user, "chainpw01").open()
        try:
            assert (await old.register()).status == 200
            assert (await new.register()).status == 200
            assert (await caller.register()).status == 200
            invite = caller.build(
                "INVITE",
                f"sip:{callee_user}@{sip[0]}",
                to=f"<sip:{callee_user}@{sip[0]}>",
                contact=f"<{caller.contact_uri()}>",
                headers=[("Content-Type", "application/sdp")],
                body=SDP,
            )
            caller.send(invite)
            challenge = await caller.response()
            assert challenge.status == 407
            retry = invite.copy()
            caller.cseq += 1
            retry.headers.set("CSeq", f"{caller.cseq} INVITE")
            top = retry.top_via.copy()
            top.params["branch"] = top.params["branch"] + "2"
            retry.headers.set("Via", str(top))
            retry.headers.add(
                "Proxy-Authorization",
                build_authorization(
                    challenge.headers.get_all("Proxy-Authenticate")[0],
                    method="INVITE",
                    uri=retry.uri_text,
                    username=caller_user,
                    password="chainpw01",
                    cnonce="c",
                ),
            )
            caller.send(retry)
            ringing = await new.request_in(timeout=10)
            assert ringing.method == "INVITE" and ringing.uri_text == new.contact_uri()
            new.answer(ringing, 200, body=SDP)
            answered = await caller.response(timeout=10)
            assert answered.status == 200, answered
            await asyncio.sleep(0.3)
            assert old.inbox.empty()  # REG-06: the replaced device never rang
            # ACK and BYE follow the route set (our double Record-Route) back through
            # the registrar to the router, which ends the callee's leg over its flow
            target = answered.contacts[0].uri
            routes = list(reversed(answered.headers.get_all("Record-Route")))
            to = answered.headers.get("To")
            for method in ("ACK", "BYE"):
                request = caller.build(method, str(target), to=to)
                if method == "ACK":
                    request.headers.set("CSeq", f"{caller.cseq - 1} ACK")
                    caller.cseq -= 1
                for route in routes:
                    request.headers.add("Route", route)
                caller.send(request)
            bye = await new.request_in(timeout=10)
            while bye.method != "BYE":
                bye = await new.request_in(timeout=10)
            new.answer(bye, 200)
            assert (await caller.response(timeout=10)).status == 200
        finally:
            for p in (old, new, caller):
                p.close()

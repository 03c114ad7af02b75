"""The edge for everything but REGISTER: 407, ACL, registration check, NAT, transports."""

from __future__ import annotations

import asyncio

from registrar_harness import Pbx, unique
from registrar_phone import Phone

from centralino.sip import Request
from centralino.sip.transport import TransportKind


def invite(phone: Phone, callee: str) -> Request:
    return phone.build(
        "INVITE",
        f"sip:{callee}@{phone.pbx[0]}",
        to=f"<sip:{callee}@{phone.pbx[0]}>",
        contact=f"<{phone.contact_uri()}>",
        headers=[("Content-Type", "application/sdp"), ("X-Centralino-Account", "spoofed")],
        body=b"v=0\r\n",
    )


async def test_acc02_invite_challenged_407_then_proxied_with_identity(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "callerpw1")
    phone = await Phone(pbx.sip(), user, "callerpw1").open()
    router = await pbx.router_peer()
    try:
        request = invite(phone, "201")
        phone.send(request)
        challenge = await phone.response()
        assert challenge.status == 407 and challenge.headers.get("Proxy-Authenticate")
        assert router.inbox.empty()
        phone.send(
            Request(
                "ACK",
                request.uri_text,
                [
                    ("Via", str(request.headers.get("Via"))),
                    ("From", request.headers.get("From") or ""),
                    ("To", challenge.headers.get("To") or ""),
                    ("Call-ID", request.call_id),
                    ("CSeq", f"{request.cseq.seq} ACK"),
                    ("Max-Forwards", "70"),
                ],
            )
        )
        # the ACK of a locally answered 407 must not reach the router
        retry_task = asyncio.create_task(phone.authed(invite(phone, "201")))
        arrived = await router.request_in()
        assert arrived.method == "INVITE"
        assert arrived.headers.get("X-Centralino-Account") == user  # not "spoofed"
        assert arrived.headers.get_all("X-Centralino-Account") == [user]
        assert arrived.headers.get("X-Centralino-Tenant") == "t1"
        assert arrived.headers.get("X-Centralino-Flow")
        assert "Proxy-Authorization" not in arrived.headers
        rr = arrived.record_routes
        assert len(rr) == 2 and rr[0].uri.port == pbx.internal[1]
        assert rr[1].uri.port == pbx.sip()[1]
        router.answer(arrived, 200)
        final = await retry_task
        assert final.status == 200 and len(final.vias) == 1
        assert len(final.record_routes) == 2
        # an in-dialog BYE from the phone follows the route set back to the router
        bye = phone.build(
            "BYE", "sip:router@" + f"{pbx.router[0]}:{pbx.router[1]}", to=final.headers.get("To")
        )
        for value in reversed(final.headers.get_all("Record-Route")):
            bye.headers.add("Route", value)
        phone.send(bye)
        in_dialog = await router.request_in()
        assert in_dialog.method == "BYE" and "Route" not in in_dialog.headers
        router.answer(in_dialog, 200)
        assert (await phone.response()).status == 200
    finally:
        phone.close()
        router.close()


async def test_router_in_dialog_request_reaches_phone_over_its_flow(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "calleepw1")
    phone = await Phone(pbx.sip(TransportKind.TCP), user, "calleepw1", transport="tcp").open()
    router = await pbx.router_peer()
    try:
        assert (await phone.register()).status == 200
        router.invite(user, call_id="dlg1")
        incoming = await phone.request_in()
        phone.answer(incoming, 200, to_tag="phonetag")
        ok = await router.response()
        routes = list(reversed(ok.headers.get_all("Record-Route")))
        assert len(routes) == 2
        router.invite(
            user,
            call_id="dlg1",
            method="BYE",
            to_tag="phonetag",
            routes=routes,
            uri=phone.contact_uri(),
        )
        bye = await phone.request_in()
        assert bye.method == "BYE" and "Route" not in bye.headers
        phone.answer(bye, 200, to_tag="phonetag")
        assert (await router.response()).status == 200
    finally:
        phone.close()
        router.close()


async def test_acc11_acl_refuses_with_403_before_any_challenge(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(
        user, "aclpw1234", acl={"address": "10.1.2.0", "netmask": "255.255.255.0"}
    )
    phone = await Phone(pbx.sip(), user, "aclpw1234").open()
    try:
        phone.send(
            phone.build("REGISTER", f"sip:{pbx.sip()[0]}", contact=f"<{phone.contact_uri()}>")
        )
        refused = await phone.response()
        assert refused.status == 403 and "WWW-Authenticate" not in refused.headers
        phone.send(invite(phone, "201"))
        assert (await phone.response()).status == 403
    finally:
        phone.close()


async def test_acc20_transport_not_allowed_is_refused_and_says_so(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "udponly12", transports=["udp"])
    tcp = await Phone(pbx.sip(TransportKind.TCP), user, "udponly12", transport="tcp").open()
    udp = await Phone(pbx.sip(), user, "udponly12").open()
    try:
        refused = await tcp.register()
        assert refused.status == 403 and "TCP not allowed" in refused.reason
        assert (await udp.register()).status == 200
    finally:
        tcp.close()
        udp.close()


async def test_acc06_disabled_account_refused(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "disabled1")
    phone = await Phone(pbx.sip(), user, "disabled1").open()
    try:
        assert (await phone.register()).status == 200
        await pbx.update_account(user, {"enabled": False})  # a config event drops the cache
        for _ in range(50):
            response = await phone.register()
            if response.status == 403:
                break
            await asyncio.sleep(0.05)  # the event travels through the outbox and NATS
        assert response.status == 403 and "disabled" in response.reason
    finally:
        phone.close()


async def test_acc12_nat_replies_and_invites_go_to_the_observed_source(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "natpw1234", nat=True)
    phone = await Phone(pbx.sip(), user, "natpw1234").open()
    router = await pbx.router_peer()
    try:
        # the phone believes it is 192.0.2.50:5060 (its private address behind a NAT)
        lie = "SIP/2.0/UDP 192.0.2.50:5060"
        ok = await phone.register(via=lie, contact=f"<sip:{user}@192.0.2.50:5060>")
        assert ok.status == 200  # it arrived at the real source, not at 192.0.2.50
        router.invite(user)
        incoming = await phone.request_in()
        assert incoming.uri_text == f"sip:{user}@192.0.2.50:5060"
        phone.answer(incoming, 180)
        assert (await router.response(final=False)).status == 180
    finally:
        phone.close()
        router.close()


async def test_acc12_without_nat_the_contact_address_is_used(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "nonatpw12", nat=False)
    signalling = await Phone(pbx.sip(), user, "nonatpw12").open()
    listener = await Phone(pbx.sip(), user, "nonatpw12").open()  # the Contact's address
    router = await pbx.router_peer()
    try:
        ok = await signalling.register(contact=f"<{listener.contact_uri()}>")
        assert ok.status == 200
        router.invite(user)
        incoming = await listener.request_in()
        assert incoming.method == "INVITE"
        assert signalling.inbox.empty()
    finally:
        for p in (signalling, listener):
            p.close()
        router.close()


async def test_acc10_registration_check_refuses_invite_from_another_port(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "regcheck1", registration_check=True)
    registered = await Phone(pbx.sip(), user, "regcheck1").open()
    other = await Phone(pbx.sip(), user, "regcheck1").open()
    router = await pbx.router_peer()
    try:
        assert (await registered.register()).status == 200
        refused = await other.authed(invite(other, "201"))
        assert refused.status == 403 and "registered address" in refused.reason
        accepted = asyncio.create_task(registered.authed(invite(registered, "201")))
        arrived = await router.request_in()
        router.answer(arrived, 200)
        assert (await accepted).status == 200
    finally:
        for p in (registered, other):
            p.close()
        router.close()


async def test_options_to_the_pbx_is_answered_and_garbage_gets_400(pbx: Pbx) -> None:
    phone = await Phone(pbx.sip(), "anyone", "x").open()
    try:
        phone.send(phone.build("OPTIONS", f"sip:{pbx.sip()[0]}:{pbx.sip()[1]}"))
        ok = await phone.response()
        assert ok.status == 200 and "REGISTER" in (ok.headers.get("Allow") or "")
        garbage = phone.build("OPTIONS", f"sip:{pbx.sip()[0]}")
        garbage.headers.set("CSeq", "not-a-number OPTIONS")
        phone.send(garbage)
        bad = await phone.response()
        assert bad.status == 400 and "CSeq" in bad.reason
        phone.send(b"\x00\xff garbage that is not SIP\r\n\r\n")
        phone.send(phone.build("OPTIONS", f"sip:{pbx.sip()[0]}"))
        assert (await phone.response()).status == 200  # still alive
    finally:
        phone.close()


async def test_cancel_follows_the_invite_in_both_directions(pbx: Pbx) -> None:
    caller_user, callee_user = unique("2"), unique("2")
    await pbx.add_account(caller_user, "cancelpw1")
    await pbx.add_account(callee_user, "cancelpw2")
    caller = await Phone(pbx.sip(), caller_user, "cancelpw1").open()
    callee = await Phone(pbx.sip(), callee_user, "cancelpw2").open()
    router = await pbx.router_peer()
    try:
        # phone -> router: the CANCEL gets the branch of the INVITE it cancels
        assert (await callee.register()).status == 200
        first = invite(caller, "201")
        caller.send(first)
        challenge = await caller.response()
        assert challenge.status == 407
        retry = invite(caller, "201")
        from centralino.sip.digest import build_authorization

        retry.headers.add(
            "Proxy-Authorization",
            build_authorization(
                challenge.headers.get_all("Proxy-Authenticate")[0],
                method="INVITE",
                uri=retry.uri_text,
                username=caller_user,
                password="cancelpw1",
                cnonce="x",
            ),
        )
        caller.send(retry)
        forwarded = await router.request_in()
        cancel = Request(
            "CANCEL",
            retry.uri_text,
            [
                ("Via", retry.headers.get("Via") or ""),
                ("Max-Forwards", "70"),
                ("From", retry.headers.get("From") or ""),
                ("To", retry.headers.get("To") or ""),
                ("Call-ID", retry.call_id),
                ("CSeq", f"{retry.cseq.seq} CANCEL"),
            ],
        )
        caller.send(cancel)
        cancelled = await router.request_in()
        assert cancelled.method == "CANCEL"
        assert cancelled.top_via.branch == forwarded.top_via.branch
        # router -> phone: likewise
        sent = router.invite(callee_user, call_id="cancel-2")
        ringing = await callee.request_in()
        router.send(
            Request(
                "CANCEL",
                sent.uri_text,
                [
                    ("Via", sent.headers.get("Via") or ""),
                    ("Max-Forwards", "70"),
                    ("From", sent.headers.get("From") or ""),
                    ("To", sent.headers.get("To") or ""),
                    ("Call-ID", sent.call_id),
                    ("CSeq", "1 CANCEL"),
                    ("X-Centralino-Account", callee_user),
                ],
            )
        )
        cancel_in = await callee.request_in()
        assert cancel_in.method == "CANCEL"
        assert cancel_in.top_via.branch == ringing.top_via.branch
        assert cancel_in.uri_text == ringing.uri_text
    finally:
        for p in (caller, callee):
            p.close()
        router.close()

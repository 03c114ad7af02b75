"""REGISTER end to end: digest against config-api, locations in KV, events (REG-01..06)."""

from __future__ import annotations

import asyncio

import pytest
from registrar_harness import Pbx, unique
from registrar_phone import Phone

from centralino.bus import Bus
from centralino.sip.transport import TransportKind
from centralino.v1 import config_pb2, registrar_pb2


async def test_reg01_register_udp_stores_location_and_grants_expiry(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "secretpw1")
    phone = await Phone(pbx.sip(), user, "secretpw1").open()
    try:
        ok = await phone.register(expires=300)
        assert ok.status == 200, ok
        contact = ok.headers.get("Contact") or ""
        assert phone.contact_uri() in contact and "expires=300" in contact
        assert pbx.registrar.edge is not None
        location = await pbx.registrar.edge.store.get(user)
        assert location is not None
        assert (location.source_ip, location.source_port) == phone.local
        assert location.transport == config_pb2.UDP
        assert location.contact == phone.contact_uri()
    finally:
        phone.close()


async def test_reg01_register_tcp_and_invite_reuses_the_connection(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "secretpw2")
    phone = await Phone(pbx.sip(TransportKind.TCP), user, "secretpw2", transport="tcp").open()
    router = await pbx.router_peer()
    try:
        ok = await phone.register(
            expires=120, contact="<sip:elsewhere@192.0.2.1:5999;transport=tcp>"
        )
        assert ok.status == 200, ok
        assert pbx.registrar.edge is not None
        location = await pbx.registrar.edge.store.get(user)
        assert location is not None and location.transport == config_pb2.TCP
        sent = router.invite(user)
        incoming = await phone.request_in()  # over the phone's own TCP connection
        assert incoming.method == "INVITE"
        assert incoming.uri_text == "sip:elsewhere@192.0.2.1:5999;transport=tcp"
        assert "X-Centralino-Account" not in incoming.headers
        assert len(incoming.record_routes) == 2
        phone.answer(incoming, 200)
        answer = await router.response()
        assert answer.status == 200 and answer.call_id == sent.call_id
        assert len(answer.vias) == 1  # the registrar's own Via was removed
    finally:
        phone.close()
        router.close()


async def test_acc02_wrong_password_and_unknown_user_look_the_same(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "rightpw12")
    real = await Phone(pbx.sip(), user, "rightpw12").open()
    ghost = await Phone(pbx.sip(), unique("9"), "whatever1").open()
    try:
        bad = await real.register(password="wrongpw12")
        nobody = await ghost.register()
        assert (bad.status, bad.reason) == (nobody.status, nobody.reason) == (401, "Unauthorized")
        assert [h.split("nonce=")[0] for h in bad.headers.get_all("WWW-Authenticate")] == [
            h.split("nonce=")[0] for h in nobody.headers.get_all("WWW-Authenticate")
        ]
        assert sorted(n for n, _ in bad.headers) == sorted(n for n, _ in nobody.headers)
    finally:
        real.close()
        ghost.close()


async def test_reg06_second_device_replaces_first_only_last_gets_invite(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "sharedpw1")
    first = await Phone(pbx.sip(), user, "sharedpw1").open()
    second = await Phone(pbx.sip(), user, "sharedpw1").open()
    router = await pbx.router_peer()
    try:
        assert (await first.register()).status == 200
        again = await second.register()
        assert again.status == 200
        assert again.headers.get_all("Contact") == [f"<{second.contact_uri()}>;expires=300"]
        router.invite(user)
        incoming = await second.request_in()
        assert incoming.method == "INVITE" and incoming.uri_text == second.contact_uri()
        assert first.inbox.empty()
        second.answer(incoming, 486)
        assert (await router.response()).status == 486
        await asyncio.sleep(0.2)  # the first device must stay silent: nothing was sent to it
        assert first.inbox.empty()
    finally:
        for p in (first, second):
            p.close()
        router.close()


async def test_reg03_expiry_limits_unregister_and_query(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "limitspw1")
    phone = await Phone(pbx.sip(), user, "limitspw1").open()
    try:
        brief = await phone.register(expires=5)
        assert brief.status == 423 and brief.headers.get("Min-Expires")
        capped = await phone.register(expires=10**6)
        assert capped.status == 200
        granted = int((capped.headers.get("Contact") or "").split("expires=")[1])
        assert 0 < granted < 10**6
        query = await phone.authed(phone.build("REGISTER", f"sip:{pbx.sip()[0]}"))
        assert query.status == 200 and phone.contact_uri() in (query.headers.get("Contact") or "")
        gone = await phone.register(expires=0)
        assert gone.status == 200 and gone.headers.get("Contact") is None
        assert pbx.registrar.edge is not None
        assert await pbx.registrar.edge.store.get(user) is None
        # "Contact: *" with "Expires: 0" removes whatever binding the account has
        assert (await phone.register(expires=300)).status == 200
        star = await phone.register(expires=0, contact="*")
        assert star.status == 200 and await pbx.registrar.edge.store.get(user) is None
        bad_star = await phone.register(expires=300, contact="*")
        assert bad_star.status == 400
    finally:
        phone.close()


async def test_reg05_expired_binding_is_removed_announced_and_unavailable(
    pbx: Pbx, nats_url: str
) -> None:
    user = unique("2")
    await pbx.add_account(user, "expirepw1")
    async with pbx.config.core.tx() as conn:  # type: ignore[union-attr]
        from centralino_config_api import singletons

        await singletons.update(conn, singletons.SIP, {"registration": {"min_expires": 1}}, None)
    bus = await Bus.connect(nats_url, "expiry-watcher")
    events: asyncio.Queue[registrar_pb2.LocationEvent] = asyncio.Queue()

    async def on_event(subject: str, event: registrar_pb2.LocationEvent) -> None:
        if event.location.username == user:
            events.put_nowait(event)

    await bus.subscribe("centralino.t1.registrar.location.>", registrar_pb2.LocationEvent, on_event)
    phone = await Phone(pbx.sip(), user, "expirepw1").open()
    router = await pbx.router_peer()
    try:
        ok = await phone.register(expires=1)
        assert ok.status == 200, ok
        assert (await asyncio.wait_for(events.get(), 5)).event == "registered"
        expired = await asyncio.wait_for(events.get(), 5)
        assert expired.event == "expired" and expired.location.contact == phone.contact_uri()
        router.invite(user)
        assert (await router.response()).status == 480
    finally:
        phone.close()
        router.close()
        await bus.close()


async def test_reg01_closed_tcp_flow_removes_its_binding(pbx: Pbx, nats_url: str) -> None:
    user = unique("2")
    await pbx.add_account(user, "flowpw123")
    phone = await Phone(pbx.sip(TransportKind.TCP), user, "flowpw123", transport="tcp").open()
    bus = await Bus.connect(nats_url, "flow-watcher")
    events: asyncio.Queue[str] = asyncio.Queue()

    async def on_event(subject: str, event: registrar_pb2.LocationEvent) -> None:
        if event.location.username == user:
            events.put_nowait(event.event)

    await bus.subscribe("centralino.t1.registrar.location.>", registrar_pb2.LocationEvent, on_event)
    try:
        assert (await phone.register()).status == 200
        assert await asyncio.wait_for(events.get(), 5) == "registered"
        phone.close()
        assert await asyncio.wait_for(events.get(), 5) == "unregistered"
        assert pbx.registrar.edge is not None
        assert await pbx.registrar.edge.store.get(user) is None
    finally:
        await bus.close()


async def test_udp_retransmission_is_answered_from_cache_not_reprocessed(pbx: Pbx) -> None:
    user = unique("2")
    await pbx.add_account(user, "retranspw")
    phone = await Phone(pbx.sip(), user, "retranspw").open()
    try:
        assert (await phone.register()).status == 200
        request = phone.build("REGISTER", f"sip:{pbx.sip()[0]}", contact=f"<{phone.contact_uri()}>")
        phone.send(request)
        challenge = await phone.response()
        from centralino.sip.digest import build_authorization

        request.headers.set("CSeq", f"{phone.cseq + 1} REGISTER")
        request.headers.add(
            "Authorization",
            build_authorization(
                challenge.headers.get_all("WWW-Authenticate")[0],
                method="REGISTER",
                uri=request.uri_text,
                username=user,
                password="retranspw",
                cnonce="abc",
            ),
        )
        top = request.top_via.copy()
        top.params["branch"] = "z9hG4bKretransmitted1"
        request.headers.set("Via", str(top))
        for _ in range(3):  # copies arriving while the original is handled are dropped
            phone.send(request)
        first = await phone.response()
        with pytest.raises(TimeoutError):
            await phone.response(timeout=0.3)
        phone.send(request)  # the phone did not hear the answer: it gets the same one again
        again = await phone.response()
        # a reprocessed copy would have replayed the nonce-count and been refused (401)
        assert (first.status, again.status) == (200, 200)
        assert again.headers.get("To") == first.headers.get("To")
    finally:
        phone.close()


async def test_acc12_nat_udp_binding_is_kept_alive(nats_url: str, database_url: str) -> None:
    from registrar_harness import pbx_edge

    async with pbx_edge(
        nats_url, database_url, CENTRALINO_REGISTRAR_KEEPALIVE_SECONDS="0.2"
    ) as edge:
        user = unique("2")
        await edge.add_account(user, "keepalive1", nat=True)
        phone = await Phone(edge.sip(), user, "keepalive1").open()
        try:
            assert (await phone.register()).status == 200
            ping = await asyncio.wait_for(phone.datagrams.keepalives.get(), 3)
            assert ping.strip() == b""
        finally:
            phone.close()

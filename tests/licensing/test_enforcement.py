"""Enforcement answers (LIC-07, USR-06) and expiry: a licence stops granting at its expiry
and an event on NATS says so."""

from __future__ import annotations

import asyncio
import time

import grpc
import nats
import pytest
from nats.aio.msg import Msg

from centralino.bus import tenant_wildcard
from centralino.v1 import licensing_pb2 as pb

from .conftest import DAY, Clock, Running, Start, mint, reason_of


async def check(
    replica: Running, product: str, tenant: str = "", user: str = ""
) -> pb.CheckFeatureResponse:
    return await replica.stub.CheckFeature(
        pb.CheckFeatureRequest(product=product, tenant=tenant, user=user)
    )


async def test_second_tenant_needs_multi_tenant(licensing: Running) -> None:
    """Multi-Tenant: config-api asks before creating a second tenant."""
    answer = await check(licensing, "multi-tenant")
    assert not answer.granted and "no valid Centralino Multi-Tenant licence" in answer.reason
    await licensing.stub.ActivateLicence(
        pb.ActivateLicenceRequest(key=mint("multi-tenant", channels=10))
    )
    answer = await check(licensing, "multi-tenant")
    assert answer.granted and answer.channels == 10


async def test_lic_07_cti_pro_needs_the_licence_assigned_to_the_user(licensing: Running) -> None:
    """USR-06 / LIC-07: a valid CTI Pro licence alone does not enable the mode for a user."""
    await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=mint("cti-pro", channels=2)))
    answer = await check(licensing, "cti-pro", "acme", "alice")
    assert not answer.granted and "not assigned to user 'alice'" in answer.reason

    await licensing.stub.AssignLicence(
        pb.Assignment(product="cti-pro", tenant="acme", user="alice")
    )
    assert (await check(licensing, "cti-pro", "acme", "alice")).granted
    # The seat is per product: CTI Phone is still not granted to alice.
    assert not (await check(licensing, "cti-phone", "acme", "alice")).granted


async def test_channel_count_limits_cti_seats(licensing: Running) -> None:
    await licensing.stub.ActivateLicence(
        pb.ActivateLicenceRequest(key=mint("cti-phone", channels=2))
    )
    users = ["u1", "u2", "u3", "u4"]
    results = await asyncio.gather(
        *(
            licensing.stub.AssignLicence(pb.Assignment(product="cti-phone", tenant="t", user=u))
            for u in users
        ),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(errors) == 2
    assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in errors)
    assert all(reason_of(e) == "seats_exhausted" for e in errors)
    seats = await licensing.stub.ListAssignments(pb.ListAssignmentsRequest(product="cti-phone"))
    assert len(seats.assignments) == 2

    # Freeing a seat lets another user in.
    holder = seats.assignments[0]
    await licensing.stub.UnassignLicence(holder)
    waiting = next(u for u in users if u not in {a.user for a in seats.assignments})
    await licensing.stub.AssignLicence(pb.Assignment(product="cti-phone", tenant="t", user=waiting))
    assert (await check(licensing, "cti-phone", "t", waiting)).granted


async def test_only_per_user_products_are_assignable(licensing: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await licensing.stub.AssignLicence(
            pb.Assignment(product="call-center", tenant="t", user="u")
        )
    assert reason_of(err.value) == "not_assignable"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await check(licensing, "kalliope-mega")
    assert reason_of(err.value) == "unknown_product"


async def test_expired_licence_stops_granting(start_licensing: Start) -> None:
    """With the service clock moved past expiry, checks refuse and seats no longer count."""
    clock = Clock()
    replica = await start_licensing(clock=clock)
    expires = clock.now + 2 * DAY
    await replica.stub.ActivateLicence(
        pb.ActivateLicenceRequest(key=mint("cti-pro", channels=1, expires_at=expires))
    )
    await replica.stub.AssignLicence(pb.Assignment(product="cti-pro", tenant="t", user="bob"))
    assert (await check(replica, "cti-pro", "t", "bob")).granted
    clock.now = expires + 1
    answer = await check(replica, "cti-pro", "t", "bob")
    assert not answer.granted and answer.channels == 0
    listed = (await replica.stub.ListLicences(pb.ListLicencesRequest())).licences
    assert [lic.valid for lic in listed] == [False]


async def test_expiry_is_announced_on_nats_at_expiry(licensing: Running, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    expired: asyncio.Future[pb.LicenceEvent] = asyncio.get_running_loop().create_future()

    async def on_event(msg: Msg) -> None:
        event = pb.LicenceEvent.FromString(msg.data)
        if event.event == "expired" and not expired.done():
            expired.set_result(event)

    try:
        await nc.subscribe(tenant_wildcard("_system", "licensing"), cb=on_event)
        await nc.flush()
        expires_at = int(time.time()) + 2
        key = mint("call-center", licence_id="LIC-SHORT", expires_at=expires_at)
        await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=key))
        event = await asyncio.wait_for(expired, 10)
        assert time.time() >= expires_at
        assert (event.licence_id, event.product) == ("LIC-SHORT", "call-center")
        assert event.expires_unix_ms == expires_at * 1000
    finally:
        await nc.close()
    assert not (await check(licensing, "call-center")).granted

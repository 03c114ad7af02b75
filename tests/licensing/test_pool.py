"""The G.729 channel pool: the sum of valid G.729 channels, leased per transcoding leg.

Several clients on two service replicas acquire concurrently and never over-allocate; leases
expire when not renewed (a dead media service) and are released at call end.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from centralino.v1 import licensing_pb2 as pb
from centralino.v1 import licensing_pb2_grpc

from .conftest import DAY, Clock, Running, Start, activate_g729, mint, reason_of


async def status(replica: Running) -> tuple[int, int]:
    reply = await replica.stub.PoolStatus(pb.PoolStatusRequest(pool="g729"))
    return reply.total, reply.in_use


async def test_pool_is_empty_without_a_g729_licence(licensing: Running) -> None:
    assert await status(licensing) == (0, 0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await licensing.stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="media-1"))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason_of(err.value) == "pool_exhausted"
    assert "no valid G.729 licence" in (err.value.details() or "")


async def test_concurrent_acquire_from_many_clients_never_over_allocates(
    start_licensing: Start,
) -> None:
    a = await start_licensing()
    b = await start_licensing()
    await activate_g729(a.stub, mint("g729", channels=3))
    await activate_g729(a.stub, mint("g729", channels=4))
    assert await status(b) == (7, 0)

    # Eight independent client channels, half on each replica, 40 acquisitions at once.
    channels = [grpc.aio.insecure_channel(r.address) for r in (a, b) * 4]
    stubs = [licensing_pb2_grpc.LicensingServiceStub(c) for c in channels]
    try:
        results = await asyncio.gather(
            *(
                stubs[i % len(stubs)].AcquireChannel(
                    pb.AcquireChannelRequest(pool="g729", owner=f"media-{i % 8}", session_id=str(i))
                )
                for i in range(40)
            ),
            return_exceptions=True,
        )
        leases = [r for r in results if isinstance(r, pb.ChannelLease)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(leases) == 7 and len(refused) == 33
        assert len({lease.lease_id for lease in leases}) == 7
        assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
        assert await status(a) == (7, 7)

        # Concurrent release and re-acquire churn still never exceeds the pool.
        async def churn(stub: licensing_pb2_grpc.LicensingServiceStub, lease_id: str) -> int:
            released = await stub.ReleaseChannel(pb.LeaseRef(lease_id=lease_id))
            assert released.released
            got = 0
            for _ in range(2):
                try:
                    await stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="x"))
                    got += 1
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return got

        regained = await asyncio.gather(
            *(churn(stubs[i], lease.lease_id) for i, lease in enumerate(leases[:4]))
        )
        assert sum(regained) == 4
        assert await status(b) == (7, 7)
    finally:
        for channel in channels:
            await channel.close(grace=None)


async def test_release_frees_a_channel_once(licensing: Running) -> None:
    await activate_g729(licensing.stub, mint("g729", channels=1))
    lease = await licensing.stub.AcquireChannel(
        pb.AcquireChannelRequest(pool="g729", owner="media-1", session_id="call-1")
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await licensing.stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="m"))
    assert (await licensing.stub.ReleaseChannel(pb.LeaseRef(lease_id=lease.lease_id))).released
    assert not (await licensing.stub.ReleaseChannel(pb.LeaseRef(lease_id=lease.lease_id))).released
    await licensing.stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="m"))


async def test_unrenewed_lease_expires_and_renewed_one_lives(start_licensing: Start) -> None:
    """A media service that dies stops renewing; its channel comes back at lease expiry."""
    clock = Clock()
    replica = await start_licensing(clock=clock)
    await activate_g729(replica.stub, mint("g729", channels=2))
    dying = await replica.stub.AcquireChannel(
        pb.AcquireChannelRequest(pool="g729", owner="media-dead", ttl_seconds=10)
    )
    living = await replica.stub.AcquireChannel(
        pb.AcquireChannelRequest(pool="g729", owner="media-alive", ttl_seconds=10)
    )
    assert dying.expires_unix_ms == int((clock.now + 10) * 1000)

    clock.now += 8
    renewed = await replica.stub.RenewLease(pb.LeaseRef(lease_id=living.lease_id, ttl_seconds=10))
    assert renewed.expires_unix_ms > living.expires_unix_ms
    with pytest.raises(grpc.aio.AioRpcError):
        await replica.stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="new"))

    clock.now += 3  # past the dead one's expiry, inside the renewed one's
    assert await status(replica) == (2, 1)
    await replica.stub.AcquireChannel(pb.AcquireChannelRequest(pool="g729", owner="new"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.RenewLease(pb.LeaseRef(lease_id=dying.lease_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(err.value) == "lease_expired"


async def test_expired_g729_licence_shrinks_the_pool(start_licensing: Start) -> None:
    clock = Clock()
    replica = await start_licensing(clock=clock)
    await activate_g729(replica.stub, mint("g729", channels=2, expires_at=clock.now + DAY))
    await activate_g729(replica.stub, mint("g729", channels=3, expires_at=clock.now + 9 * DAY))
    assert await status(replica) == (5, 0)
    clock.now += 2 * DAY
    assert await status(replica) == (3, 0)


async def test_lease_requests_are_validated(licensing: Running) -> None:
    cases = [
        (pb.AcquireChannelRequest(pool="opus", owner="m"), "unknown_pool"),
        (pb.AcquireChannelRequest(pool="g729", owner=""), "bad_owner"),
        (pb.AcquireChannelRequest(pool="g729", owner="m", ttl_seconds=-5), "bad_ttl"),
    ]
    for request, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await licensing.stub.AcquireChannel(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert reason_of(err.value) == reason
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await licensing.stub.ReleaseChannel(pb.LeaseRef(lease_id="not-a-uuid"))
    assert reason_of(err.value) == "bad_lease_id"

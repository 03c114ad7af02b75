"""The cluster-wide active-call counter in JetStream KV (LIM-01, LIM-03), on a real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from centralino.bus import Bus
from centralino_router.counters import CallCounter


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_url, "test-counters")
    yield b
    await b.close()


async def test_two_replicas_never_admit_past_the_limit(bus: Bus) -> None:
    """Forty calls race for a limit of 3 from two replicas: exactly 3 are admitted."""
    kv = await bus.kv(f"cc_{uuid.uuid4().hex[:8]}")
    replicas = [CallCounter(kv, "router-a"), CallCounter(kv, "router-b")]
    results = await asyncio.gather(
        *(
            replicas[i % 2].try_add("t1", "201", f"call-{i}", lambda active: active < 3)
            for i in range(40)
        )
    )
    assert sum(added for added, _ in results) == 3
    assert await replicas[0].active("t1", "201") == 3


async def test_release_frees_a_slot_and_repeats_are_idempotent(bus: Bus) -> None:
    kv = await bus.kv(f"cc_{uuid.uuid4().hex[:8]}")
    counter = CallCounter(kv, "router-a")
    assert (await counter.try_add("t1", "200", "c1", lambda n: n < 1))[0]
    assert not (await counter.try_add("t1", "200", "c2", lambda n: n < 1))[0]
    assert (await counter.try_add("t1", "200", "c1", lambda n: n < 1))[0]  # same call again
    await counter.remove("t1", "200", "c1")
    await counter.remove("t1", "200", "c1")
    assert await counter.active("t1", "200") == 0
    assert (await counter.try_add("t1", "200", "c2", lambda n: n < 1))[0]


async def test_a_dead_replicas_calls_stop_counting_when_their_leases_expire(bus: Bus) -> None:
    kv = await bus.kv(f"cc_{uuid.uuid4().hex[:8]}")
    now = [1000.0]
    dead = CallCounter(kv, "router-dead", lease_seconds=30, clock=lambda: now[0])
    alive = CallCounter(kv, "router-alive", lease_seconds=30, clock=lambda: now[0])
    await dead.try_add("t1", "201", "orphan", lambda n: True)
    await alive.try_add("t1", "201", "kept", lambda n: True)
    now[0] += 20
    await alive.renew("t1", "201", {"kept", "orphan"})  # cannot renew another's lease
    now[0] += 15
    assert await alive.active("t1", "201") == 1
    assert (await alive.try_add("t1", "201", "new", lambda n: n < 2))[0]

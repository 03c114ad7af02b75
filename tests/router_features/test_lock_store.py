"""Lock state shared across router replicas via JetStream KV (LOCK-06, LOCK-10)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from centralino.bus import Bus
from centralino_router.features.lock import (
    ClassChoice,
    LockSettings,
    UnlockMode,
    UnlockPolicy,
    call_placed,
    unlock,
)
from centralino_router.features.lock_store import BUCKET, LockStore, key_for

PER_CALL = LockSettings(UnlockMode.CODE, UnlockPolicy.PER_CALL)


@pytest.fixture
async def buses(nats_url: str) -> AsyncIterator[tuple[Bus, Bus]]:
    first = await Bus.connect(nats_url, "router-a")
    second = await Bus.connect(nats_url, "router-b")
    yield first, second
    await first.close()
    await second.close()


async def test_unlock_on_one_replica_is_seen_by_another(buses: tuple[Bus, Bus]) -> None:
    store_a = LockStore(await buses[0].kv(BUCKET))
    store_b = LockStore(await buses[1].kv(BUCKET))
    ext = uuid.uuid4().hex[:12]
    state, revision = await store_b.read("t1", ext)
    assert revision == 0 and not state.unlocked
    outcome = await store_a.change("t1", ext, lambda s: unlock(PER_CALL, s, 10.0))
    assert not outcome.refused
    state, revision = await store_b.read("t1", ext)
    assert state.unlocked and revision > 0


async def test_per_call_unlock_spent_once_under_concurrency(buses: tuple[Bus, Bus]) -> None:
    """Two replicas place calls at once: exactly one gets the standard class."""
    store_a = LockStore(await buses[0].kv(BUCKET))
    store_b = LockStore(await buses[1].kv(BUCKET))
    ext = uuid.uuid4().hex[:12]
    await store_a.change("t1", ext, lambda s: unlock(PER_CALL, s, 0.0))
    choices = await asyncio.gather(
        *(
            store.change("t1", ext, lambda s: call_placed(PER_CALL, s, 1.0))
            for store in (store_a, store_b, store_a, store_b)
        )
    )
    assert sorted(choices) == sorted([ClassChoice.STANDARD] + [ClassChoice.RESTRICTED] * 3)


@pytest.mark.parametrize(("tenant", "ext"), [("t.1", "100"), ("t1", "10*"), ("", "1"), ("t", "")])
def test_keys_reject_unsafe_parts(tenant: str, ext: str) -> None:
    with pytest.raises(ValueError, match="lock key"):
        key_for(tenant, ext)

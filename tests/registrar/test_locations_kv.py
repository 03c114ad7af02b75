"""Locations in a real JetStream KV bucket: compare-and-set under two replicas, expiry."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from centralino.bus import Bus
from centralino.v1 import registrar_pb2
from centralino_registrar.binding import Bind, Change, apply_plan
from centralino_registrar.locations import ExpiryReaper, LocationStore


@pytest.fixture
async def two_replicas(nats_url: str) -> AsyncIterator[tuple[LocationStore, LocationStore]]:
    bucket = f"loc_{uuid.uuid4().hex[:8]}"
    a = await Bus.connect(nats_url, "replica-a")
    b = await Bus.connect(nats_url, "replica-b")
    try:
        yield LocationStore(await a.kv(bucket)), LocationStore(await b.kv(bucket))
    finally:
        await a.close()
        await b.close()


def _bump(contact: str) -> object:
    def decide(current: registrar_pb2.Location | None) -> Change:
        new = registrar_pb2.Location(
            username="alice",
            contact=contact,
            cseq=(current.cseq if current else 0) + 1,
            expires_unix_ms=int(time.time() * 1000) + 60_000,
        )
        return Change(True, new, "registered", new)

    return decide


async def test_reg06_last_wins_is_compare_and_set_under_two_replicas(
    two_replicas: tuple[LocationStore, LocationStore],
) -> None:
    a, b = two_replicas
    n = 60
    await asyncio.gather(
        *(
            (a if i % 2 else b).change("alice", _bump(f"sip:dev{i}@10.0.0.{i % 2}"))  # type: ignore[arg-type]
            for i in range(n)
        )
    )
    final = await a.get("alice")
    assert final is not None
    # every write was applied on top of the one before it: none was lost to a race
    assert final.cseq == n
    assert final.contact.startswith("sip:dev")
    assert (await b.get("alice")) == final


async def test_reg06_two_devices_through_apply_plan(
    two_replicas: tuple[LocationStore, LocationStore],
) -> None:
    a, b = two_replicas
    now = int(time.time() * 1000)

    def plan(contact: str, call_id: str) -> object:
        proposed = registrar_pb2.Location(username="bob", call_id=call_id, cseq=1)
        return lambda cur: apply_plan(Bind(contact, 300), cur, proposed, now)

    first = await a.change("bob", plan("sip:bob@phone1", "c1"))  # type: ignore[arg-type]
    second = await b.change("bob", plan("sip:bob@phone2", "c2"))  # type: ignore[arg-type]
    assert isinstance(first, Change) and isinstance(second, Change)
    assert (await a.get("bob")).contact == "sip:bob@phone2"  # type: ignore[union-attr]


async def test_reg05_expiry_is_announced_by_exactly_one_replica(
    two_replicas: tuple[LocationStore, LocationStore],
) -> None:
    a, b = two_replicas
    expired: list[tuple[str, str]] = []
    done = asyncio.Event()

    def handler(name: str) -> object:
        async def on_expired(key: str, location: registrar_pb2.Location) -> None:
            expired.append((name, key))
            done.set()

        return on_expired

    reapers = [ExpiryReaper(a, handler("a"), time.time), ExpiryReaper(b, handler("b"), time.time)]  # type: ignore[arg-type]
    for r in reapers:
        await r.start()
    try:
        soon = int(time.time() * 1000) + 300
        loc = registrar_pb2.Location(username="carol", contact="sip:c@x", expires_unix_ms=soon)
        await a.change("carol", lambda _: Change(True, loc, "registered", loc))
        later = registrar_pb2.Location(
            username="dave", contact="sip:d@x", expires_unix_ms=soon + 60_000
        )
        await b.change("dave", lambda _: Change(True, later, "registered", later))
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.3)  # give a wrongly duplicated announcement time to show up
        assert [key for _, key in expired] == ["carol"]
        assert await a.get("carol") is None
        assert await a.get("dave") is not None
    finally:
        for r in reapers:
            await r.stop()


async def test_refresh_before_expiry_is_not_reaped(
    two_replicas: tuple[LocationStore, LocationStore],
) -> None:
    a, _ = two_replicas
    expired: list[str] = []

    async def on_expired(key: str, location: registrar_pb2.Location) -> None:
        expired.append(key)

    reaper = ExpiryReaper(a, on_expired, time.time)
    await reaper.start()
    try:
        soon = int(time.time() * 1000) + 400
        short = registrar_pb2.Location(username="erin", contact="sip:e@x", expires_unix_ms=soon)
        await a.change("erin", lambda _: Change(True, short, "registered", short))
        longer = registrar_pb2.Location(
            username="erin", contact="sip:e@x", expires_unix_ms=soon + 60_000
        )
        await a.change("erin", lambda _: Change(True, longer, "refreshed", longer))
        await asyncio.sleep(0.8)
        assert expired == []
        assert await a.get("erin") is not None
    finally:
        await reaper.stop()

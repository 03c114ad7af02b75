"""Cluster-wide active-call counts per extension (LIM-01, LIM-03) in JetStream KV.

Every router replica admits calls against the same counter: admission is a
compare-and-set on the extension's key, retried on conflict, so two replicas can never
both admit the call that exceeds a limit. Each call is a lease its replica renews; a
crashed replica's calls stop counting once their leases run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from centralino.v1 import router_pb2

BUCKET = "call_counters"
MAX_ATTEMPTS = 50


class CounterConflictError(RuntimeError):
    """The compare-and-set kept losing: the key is under pathological contention."""


def counter_key(tenant: str, number: str) -> str:
    return f"{tenant}.{number}"


class CallCounter:
    def __init__(
        self,
        kv: KeyValue,
        owner: str,
        lease_seconds: float = 90.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kv = kv
        self.owner = owner
        self.lease_ms = int(lease_seconds * 1000)
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _load(self, key: str) -> tuple[router_pb2.ActiveCalls, int | None]:
        try:
            entry = await self.kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return router_pb2.ActiveCalls(), None
        calls = router_pb2.ActiveCalls.FromString(entry.value or b"")
        return calls, entry.revision

    def _live(self, calls: router_pb2.ActiveCalls) -> router_pb2.ActiveCalls:
        now = self._now_ms()
        live = router_pb2.ActiveCalls()
        for call_id, lease in calls.calls.items():
            if lease.expires_unix_ms > now:
                live.calls[call_id].CopyFrom(lease)
        return live

    async def _store(self, key: str, value: router_pb2.ActiveCalls, revision: int | None) -> bool:
        data = value.SerializeToString()
        try:
            if revision is None:
                await self.kv.create(key, data)
            else:
                await self.kv.update(key, data, last=revision)
        except KeyWrongLastSequenceError:
            return False
        return True

    async def active(self, tenant: str, number: str) -> int:
        calls, _ = await self._load(counter_key(tenant, number))
        return len(self._live(calls).calls)

    async def try_add(
        self, tenant: str, number: str, call_id: str, admit: Callable[[int], bool]
    ) -> tuple[bool, int]:
        """Add ``call_id`` if ``admit(active_calls)`` says so; returns (added, active before)."""
        key = counter_key(tenant, number)
        for _ in range(MAX_ATTEMPTS):
            calls, revision = await self._load(key)
            live = self._live(calls)
            active = len(live.calls)
            if call_id in live.calls:
                return True, active - 1
            if not admit(active):
                return False, active
            live.calls[call_id].owner = self.owner
            live.calls[call_id].expires_unix_ms = self._now_ms() + self.lease_ms
            if await self._store(key, live, revision):
                return True, active
        raise CounterConflictError(f"could not update {key} after {MAX_ATTEMPTS} attempts")

    async def remove(self, tenant: str, number: str, call_id: str) -> None:
        key = counter_key(tenant, number)
        for _ in range(MAX_ATTEMPTS):
            calls, revision = await self._load(key)
            live = self._live(calls)
            if call_id not in live.calls and len(live.calls) == len(calls.calls):
                return
            live.calls.pop(call_id, None)
            if await self._store(key, live, revision):
                return
        raise CounterConflictError(f"could not update {key} after {MAX_ATTEMPTS} attempts")

    async def renew(self, tenant: str, number: str, call_ids: set[str]) -> None:
        """Extend the leases of this replica's ``call_ids`` (called periodically)."""
        key = counter_key(tenant, number)
        for _ in range(MAX_ATTEMPTS):
            calls, revision = await self._load(key)
            live = self._live(calls)
            expires = self._now_ms() + self.lease_ms
            for call_id in call_ids & set(live.calls):
                if live.calls[call_id].owner == self.owner:
                    live.calls[call_id].expires_unix_ms = expires
            if await self._store(key, live, revision):
                return
        raise CounterConflictError(f"could not update {key} after {MAX_ATTEMPTS} attempts")

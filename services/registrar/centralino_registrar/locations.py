"""The account locations in JetStream KV: one key per account, compare-and-set writes.

Every registrar replica reads and writes the same bucket. A write is a read-modify-write
guarded by the revision that was read (``update(last=rev)``): if another replica wrote in
between, the write fails and is retried on the new value, so the stored value is always
the result of applying REGISTERs one after the other and the last one applied wins. A
single value per key means there is never more than one contact per account (REG-06).

Expiry: each replica mirrors the bucket through a KV watch and keeps the expiry times; when
one passes, it deletes the key *with the revision it saw*. Only one replica's delete can
match, so exactly one replica announces the expiry; a replica whose delete fails because
the phone refreshed in between simply forgets the old expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from centralino.v1 import registrar_pb2
from centralino_registrar.auth import Reject
from centralino_registrar.binding import Change

log = logging.getLogger(__name__)

BUCKET = "locations"
# a KV write that lost the race is retried after a short random pause (so that racing
# writers spread out); this many losses in a row means something is writing the key in a
# loop, and the REGISTER is answered with 500 rather than spinning
MAX_ATTEMPTS = 64
_BACKOFF_STEP = 0.001
_WRONG_LAST_SEQUENCE = (10071, 10164)


class LocationStoreError(RuntimeError):
    """The KV store did not accept a location change (contention or the bus is down)."""


@dataclass(frozen=True, slots=True)
class Stored:
    location: registrar_pb2.Location | None
    revision: int  # 0: the key never existed; else the last revision (possibly a delete)


def _decode(key: str, data: bytes | None) -> registrar_pb2.Location | None:
    if not data:
        return None
    try:
        return registrar_pb2.Location.FromString(data)
    except DecodeError:
        log.warning("ignoring undecodable location for %s", key)
        return None


class LocationStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        #: a local copy of the bucket kept by a watch (see ExpiryReaper); when set, a
        #: change first tries the revision it holds and reads KV only after a lost race
        self.mirror: dict[str, Stored] | None = None

    async def read(self, username: str) -> Stored:
        try:
            entry = await self.kv.get(username)
        except KeyNotFoundError as exc:
            revision = exc.entry.revision if exc.entry is not None else 0
            return Stored(None, revision or 0)
        return Stored(_decode(username, entry.value), entry.revision or 0)

    async def get(self, username: str) -> registrar_pb2.Location | None:
        return (await self.read(username)).location

    async def change(
        self,
        username: str,
        decide: Callable[[registrar_pb2.Location | None], Change | Reject],
    ) -> Change | Reject:
        """Apply ``decide`` to the current value with compare-and-set, retrying on races."""
        trust_mirror = self.mirror is not None
        for attempt in range(MAX_ATTEMPTS):
            if attempt > 1 or (attempt == 1 and not trust_mirror):
                await asyncio.sleep(random.random() * _BACKOFF_STEP * min(attempt, 16))
            if attempt == 0 and self.mirror is not None:
                # the mirror may lag behind the bucket. A write made from it is checked by
                # its compare-and-set; a decision to write nothing is not, so it is taken
                # again on a fresh read
                stored = self.mirror.get(username) or Stored(None, 0)
            else:
                trust_mirror = False
                stored = await self.read(username)
            outcome = decide(stored.location)
            if isinstance(outcome, Reject) or not outcome.write:
                if trust_mirror:
                    continue
                return outcome
            try:
                if outcome.store is None:
                    if stored.location is None:
                        return outcome
                    await self.delete_if(username, stored.revision)
                else:
                    await self.kv.update(
                        username, outcome.store.SerializeToString(), last=stored.revision
                    )
            except (KeyWrongLastSequenceError, _LostRace):
                continue
            return outcome
        raise LocationStoreError(f"location of {username!r}: {MAX_ATTEMPTS} lost write races")

    async def delete_if(self, username: str, revision: int) -> None:
        """Delete the key only if ``revision`` is still its last revision."""
        try:
            await self.kv.delete(username, last=revision)
        except APIError as exc:
            if exc.err_code in _WRONG_LAST_SEQUENCE:
                raise _LostRace from None
            raise


class _LostRace(Exception):
    """Internal: a conditional delete found a newer revision."""


ExpiredHandler = Callable[[str, registrar_pb2.Location], Awaitable[None]]


class ExpiryReaper:
    """Mirrors the bucket and removes bindings whose time ran out (REG-05)."""

    def __init__(
        self, store: LocationStore, on_expired: ExpiredHandler, clock: Callable[[], float]
    ) -> None:
        self.store = store
        self.on_expired = on_expired
        self.clock = clock  # wall-clock seconds: expiries are absolute times shared by replicas
        self._latest: dict[str, tuple[int, int]] = {}  # key -> (revision, expires_ms)
        self.values: dict[str, Stored] = {}
        self._heap: list[tuple[int, str, int]] = []  # (expires_ms, key, revision)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    async def start(self) -> None:
        watcher = await self.store.kv.watchall()
        self._watcher = watcher
        self._tasks = [
            asyncio.create_task(self._watch(), name="locations-watch"),
            asyncio.create_task(self._reap(), name="locations-reap"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await self._watcher.stop()
        except Exception as exc:  # the connection may already be closed on shutdown
            log.debug("stopping locations watcher: %s", exc)

    async def _watch(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the initial values have all been delivered
                self.ready.set()
                continue
            key = entry.key
            revision = entry.revision or 0
            if entry.operation in (KV_DEL, KV_PURGE):
                self._latest.pop(key, None)
                self.values[key] = Stored(None, revision)
                continue
            location = _decode(key, entry.value)
            if location is None:
                continue
            self.values[key] = Stored(location, revision)
            self._latest[key] = (revision, location.expires_unix_ms)
            heapq.heappush(self._heap, (location.expires_unix_ms, key, revision))
            self._wake.set()

    async def _reap(self) -> None:
        while True:
            now_ms = int(self.clock() * 1000)
            while self._heap and self._heap[0][0] <= now_ms:
                expires_ms, key, revision = heapq.heappop(self._heap)
                if self._latest.get(key) != (revision, expires_ms):
                    continue  # refreshed, replaced or removed since
                await self._expire(key, revision)
            self._wake.clear()
            timeout = (self._heap[0][0] - now_ms) / 1000 if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _expire(self, key: str, revision: int) -> None:
        try:
            entry = await self.store.kv.get(key, revision=revision)
        except KeyNotFoundError:
            return
        location = _decode(key, entry.value)
        try:
            await self.store.delete_if(key, revision)
        except _LostRace:
            return  # another replica expired it, or the phone refreshed just in time
        self._latest.pop(key, None)
        if location is not None:
            await self.on_expired(key, location)

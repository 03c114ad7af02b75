"""Lock state shared by all router replicas in JetStream KV (bucket ``lock_state``).

Key ``<tenant>.<extension>``. Every change is a compare-and-set on the revision that
was read, retried on a lost race, so two replicas handling the same extension at once
cannot both spend one per-call unlock or lose a PIN failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .lock import LockState

BUCKET = "lock_state"
MAX_ATTEMPTS = 16
_KEY_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

T = TypeVar("T")


class LockStoreError(RuntimeError):
    """The shared lock state could not be read or changed."""


def key_for(tenant: str, extension: str) -> str:
    for name, value in (("tenant", tenant), ("extension", extension)):
        if not _KEY_PART.match(value):
            raise ValueError(f"{name} {value!r} cannot be part of a lock key")
    return f"{tenant}.{extension}"


class LockStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def read(self, tenant: str, extension: str) -> tuple[LockState, int]:
        """The stored state (a locked default if none) and its revision (0: absent)."""
        try:
            entry = await self.kv.get(key_for(tenant, extension))
        except KeyNotFoundError as exc:
            revision = exc.entry.revision if exc.entry is not None else 0
            return LockState(), revision or 0
        return LockState.from_bytes(entry.value or b""), entry.revision or 0

    async def change(
        self,
        tenant: str,
        extension: str,
        step: Callable[[LockState], tuple[LockState, T]],
    ) -> T:
        """Apply a pure transition (e.g. ``lambda s: lock.unlock(cfg, s, now, pin)``)
        atomically and return its output."""
        key = key_for(tenant, extension)
        for _ in range(MAX_ATTEMPTS):
            state, revision = await self.read(tenant, extension)
            new_state, output = step(state)
            if new_state == state:
                return output
            try:
                if revision == 0:
                    await self.kv.create(key, new_state.to_bytes())
                else:
                    await self.kv.update(key, new_state.to_bytes(), last=revision)
            except KeyWrongLastSequenceError:
                continue
            return output
        raise LockStoreError(f"{key}: gave up after {MAX_ATTEMPTS} concurrent updates")

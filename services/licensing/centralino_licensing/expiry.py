"""When a licence expires, say so on NATS (``centralino._system.licensing.licence.expired``).

Expired licences stop granting by themselves (every check compares with the current time);
this watcher only announces it, once per licence even with several replicas, because claiming
an expiry is one ``UPDATE ... RETURNING`` in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from centralino_licensing.licences import LicenceBook
from centralino_licensing.servicer import Notify

log = logging.getLogger(__name__)

# Another replica may activate a licence that expires sooner than anything we know of; it
# wakes us over NATS, and this cap bounds the delay if that event is lost.
MAX_WAIT = 60.0


def wait_seconds(next_expiry: float | None, now: float, max_wait: float = MAX_WAIT) -> float:
    if next_expiry is None:
        return max_wait
    return max(0.0, min(max_wait, next_expiry - now))


class ExpiryWatcher:
    def __init__(self, book: LicenceBook, clock: Callable[[], float], notify: Notify) -> None:
        self.book = book
        self.clock = clock
        self.notify = notify
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                delay = await self.announce_due()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("licence expiry check failed: %s", exc)
                delay = MAX_WAIT / 10
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)

    async def announce_due(self) -> float:
        """Announce what expired by now; returns how long to wait before the next check."""
        now = self.clock()
        for record in await self.book.claim_expired(now):
            log.info("licence expired", extra={"licence_id": record.id, "product": record.product})
            await self.notify(record, "expired")
        return wait_seconds(await self.book.next_expiry(), now)

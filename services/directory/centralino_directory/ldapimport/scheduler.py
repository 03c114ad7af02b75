"""Runs directory imports on a schedule and on demand, and applies them to the store.

One sync per source at a time (a second request waits for the running one and then runs
again, so "sync now" always reflects the server after the request). The blocking ldap3
work runs in a worker thread; the store is only touched from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from centralino_directory.ldapimport.client import DirectoryImportError, FetchResult, fetch
from centralino_directory.ldapimport.config import ImportSource
from centralino_directory.phonebook.contacts import Contact
from centralino_directory.phonebook.store import ContactChanges, DirectoryStore

log = logging.getLogger(__name__)

Fetcher = Callable[[ImportSource, Mapping[str, Contact], str | None], FetchResult]


@dataclass(frozen=True, slots=True)
class ImportReport:
    source: str
    tenant: str
    started_unix: float
    duration_seconds: float
    incremental: bool = False
    fetched: int = 0
    total: int = 0
    changes: ContactChanges = field(default_factory=ContactChanges)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class _State:
    source: ImportSource
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    by_key: dict[str, Contact] = field(default_factory=dict)
    high_water: str | None = None
    last: ImportReport | None = None


class ImportScheduler:
    def __init__(
        self,
        store: DirectoryStore,
        sources: list[ImportSource],
        fetcher: Fetcher = fetch,
        on_report: Callable[[ImportReport], None] | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.on_report = on_report
        self._states = {s.name: _State(s) for s in sources}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    @property
    def sources(self) -> list[ImportSource]:
        return [s.source for s in self._states.values()]

    def last_report(self, name: str) -> ImportReport | None:
        return self._states[name].last if name in self._states else None

    async def run_now(self, name: str) -> ImportReport:
        """Sync one source now; raises KeyError for an unknown source name."""
        state = self._states[name]
        async with state.lock:
            return await self._sync(state)

    async def _sync(self, state: _State) -> ImportReport:
        source = state.source
        started = time.time()
        t0 = time.monotonic()
        try:
            result = await asyncio.to_thread(
                self.fetcher, source, dict(state.by_key), state.high_water
            )
        except DirectoryImportError as exc:
            report = ImportReport(
                source.name, source.tenant, started, time.monotonic() - t0, error=exc.problem
            )
            log.warning("directory import failed: %s", exc, extra={"source": source.name})
        else:
            changes = self.store.replace_contacts(
                source.tenant, source.source_name, result.contacts.values()
            )
            state.by_key = dict(result.contacts)
            state.high_water = result.high_water
            report = ImportReport(
                source.name,
                source.tenant,
                started,
                time.monotonic() - t0,
                incremental=result.incremental,
                fetched=result.fetched,
                total=len(result.contacts),
                changes=changes,
            )
            log.info(
                "directory import %s: %s (%s, %d read)",
                source.name,
                changes,
                "incremental" if result.incremental else "full",
                result.fetched,
                extra={"source": source.name, "tenant": source.tenant},
            )
        state.last = report
        if self.on_report is not None:
            self.on_report(report)
        return report

    async def _loop(self, state: _State) -> None:
        while not self._stop.is_set():
            async with state.lock:
                await self._sync(state)
            # The interval is a timer, not a wait for an event: stop() cuts it short.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), state.source.interval_seconds)

    def start(self) -> None:
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self._loop(s), name=f"directory-import-{name}")
            for name, s in self._states.items()
        ]
        for task in self._tasks:
            task.add_done_callback(_report_crash)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def _report_crash(task: asyncio.Task[None]) -> None:
    # A scheduled import stops only by cancellation; anything else is a bug to surface.
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())

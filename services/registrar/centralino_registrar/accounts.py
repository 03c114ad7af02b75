"""Accounts and SIP settings from config-api, cached and invalidated by config events.

Every REGISTER and INVITE needs the account (HA1s, ACL, flags) and its tenant's SIP
settings (realm, expiry limits, transports). They are fetched once over gRPC and kept until
a ``ConfigChanged`` event says they changed; a short time-to-live bounds the damage of a
missed event. Concurrent look-ups of the same key share one RPC, so a burst of REGISTERs
for 10,000 accounts after a restart costs 10,000 RPCs, not more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import grpc

from centralino.bus import Bus, any_tenant
from centralino.v1 import config_pb2, config_pb2_grpc

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

# Unknown users are cached briefly too: a scanner must not turn into a config-api flood.
NEGATIVE_TTL = 10.0


class ConfigUnavailableError(RuntimeError):
    """config-api could not answer; the request gets 503 and the phone retries."""


class _Cache(Generic[K, V]):
    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        generation = self._generation
        try:
            value, ttl = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters re-raise it
            raise
        finally:
            del self._pending[key]
        # an invalidation during the RPC means the answer may predate the change
        if generation == self._generation:
            self._values[key] = (self.clock() + ttl, value)
        future.set_result(value)
        return value

    def drop(self, key: K) -> None:
        self._generation += 1
        self._values.pop(key, None)

    def drop_where(self, match: Callable[[K, V], bool]) -> None:
        self._generation += 1
        for key in [k for k, (_, v) in self._values.items() if match(k, v)]:
            del self._values[key]


class AccountDirectory:
    def __init__(
        self,
        stub: config_pb2_grpc.ConfigServiceStub,
        *,
        ttl: float = 300.0,
        rpc_timeout: float = 3.0,
        max_concurrent_rpcs: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stub = stub
        # after a restart every phone's REGISTER misses the cache at once; queueing the
        # look-ups here keeps config-api answering instead of timing every one of them out
        self._rpcs = asyncio.Semaphore(max_concurrent_rpcs)
        self.ttl = ttl
        self.rpc_timeout = rpc_timeout
        self._accounts: _Cache[str, config_pb2.Account | None] = _Cache(ttl, clock)
        self._settings: _Cache[str, config_pb2.SipSettings] = _Cache(ttl, clock)
        #: (tenant, extension number) -> usernames cached with it, for extension events
        self._by_extension: dict[tuple[str, str], set[str]] = {}

    async def account(self, username: str) -> config_pb2.Account | None:
        async def load() -> tuple[config_pb2.Account | None, float]:
            try:
                async with self._rpcs:
                    account = await self.stub.GetAccount(
                        config_pb2.GetAccountRequest(username=username), timeout=self.rpc_timeout
                    )
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    return None, NEGATIVE_TTL
                raise ConfigUnavailableError(
                    f"GetAccount({username!r}): {exc.code().name}"
                ) from exc
            if account.extension_number:
                key = (account.tenant, account.extension_number)
                self._by_extension.setdefault(key, set()).add(username)
            return account, self.ttl

        return await self._accounts.get(username, load)

    async def sip_settings(self, tenant: str) -> config_pb2.SipSettings:
        async def load() -> tuple[config_pb2.SipSettings, float]:
            try:
                settings = await self.stub.GetSipSettings(
                    config_pb2.GetSipSettingsRequest(tenant=tenant), timeout=self.rpc_timeout
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return config_pb2.SipSettings(), NEGATIVE_TTL
                raise ConfigUnavailableError(
                    f"GetSipSettings({tenant!r}): {exc.code().name}"
                ) from exc
            return settings, self.ttl

        return await self._settings.get(tenant, load)

    def on_config_changed(self, tenant: str, change: config_pb2.ConfigChanged) -> None:
        """Drop what a change can affect, and only that: a bulk import emits one event per
        extension and account, and each must cost O(1), not a scan of the cache.

        Template edits need nothing here: config-api emits an event for every account or
        extension whose effective settings the edit changed.
        """
        if change.kind == "account" and change.key:
            self._accounts.drop(change.key)
        elif change.kind == "extension" and change.key:
            # the account carries its extension's enabled flag
            for username in self._by_extension.pop((tenant, change.key), ()):
                self._accounts.drop(username)
        elif change.kind == "sip_settings":
            # realm, expiry limits and the transports every account may use
            self._settings.drop_where(lambda _, __: True)
            self._accounts.drop_where(lambda _, __: True)
            self._by_extension.clear()

    async def subscribe(self, bus: Bus) -> None:
        async def handler(subject: str, change: config_pb2.ConfigChanged) -> None:
            tenant = subject.split(".")[1]
            self.on_config_changed(tenant, change)

        self._subscription = await bus.subscribe(
            any_tenant("config"), config_pb2.ConfigChanged, handler
        )

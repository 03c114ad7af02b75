"""What call control reads from other services: config (gRPC ConfigService) and locations (KV).

Config answers are cached briefly and the cache is dropped on every config-change event of
the tenant, so an admin's edit applies to the next call without a reload (habit 8) while a
burst of calls does not cost one gRPC round trip per lookup.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from centralino.v1 import config_pb2, config_pb2_grpc, registrar_pb2
from centralino_router.policy import ExtensionPolicy, PolicyError, parse_overflow

LOCATIONS_BUCKET = "locations"
CACHE_SECONDS = 5.0

T = TypeVar("T")


class LookupFailedError(RuntimeError):
    """Config or location data could not be read (service down, malformed document)."""


def extension_policy(ext: config_pb2.Extension) -> ExtensionPolicy:
    """The call-control view of an extension: config-api serves its properties with the
    effective settings nested under ``settings`` (``settings.overflow.<origin>...``)."""
    doc: Any = {}
    if ext.settings_json:
        try:
            doc = json.loads(ext.settings_json)
        except ValueError as exc:
            raise PolicyError("settings_json", f"not JSON: {exc}") from None
    settings = doc.get("settings") if isinstance(doc, dict) else None
    if not isinstance(settings, dict):
        raise PolicyError("settings_json.settings", "expected an object")
    return ExtensionPolicy(
        tenant=ext.tenant,
        number=ext.number,
        enabled=ext.enabled,
        display_name=ext.display_name,
        call_limit=ext.call_limit,
        busy_level=ext.busy_level,
        overflow=parse_overflow(settings.get("overflow"), "settings.overflow"),
    )


class Lookups:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        locations: KeyValue,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config_pb2_grpc.ConfigServiceStub(channel)
        self.locations = locations
        self.clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def _cached(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[T]]) -> T:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
        value = await fetch()
        self._cache[key] = (now + CACHE_SECONDS, value)
        return value

    async def _call(self, what: str, rpc: Awaitable[T]) -> T | None:
        try:
            return await rpc
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise LookupFailedError(f"config lookup {what} failed: {exc.code().name}") from exc

    async def account(self, username: str) -> config_pb2.Account | None:
        async def fetch() -> config_pb2.Account | None:
            req = config_pb2.GetAccountRequest(username=username)
            return await self._call(f"account {username}", self.config.GetAccount(req, timeout=3))

        return await self._cached(("account", username), fetch)

    async def extension(self, tenant: str, number: str) -> config_pb2.Extension | None:
        async def fetch() -> config_pb2.Extension | None:
            req = config_pb2.GetExtensionRequest(tenant=tenant, number=number)
            return await self._call(
                f"extension {tenant}/{number}", self.config.GetExtension(req, timeout=3)
            )

        return await self._cached(("extension", tenant, number), fetch)

    async def extension_accounts(self, tenant: str, number: str) -> list[config_pb2.Account]:
        async def fetch() -> list[config_pb2.Account]:
            req = config_pb2.GetExtensionRequest(tenant=tenant, number=number)
            reply = await self._call(
                f"accounts of {tenant}/{number}", self.config.ListExtensionAccounts(req, timeout=3)
            )
            return list(reply.accounts) if reply is not None else []

        return await self._cached(("accounts", tenant, number), fetch)

    async def _tenant_wide(self, what: str, tenant: str, rpc: Callable[..., Awaitable[T]]) -> T:
        async def fetch() -> T:
            reply = await self._call(
                f"{what} of {tenant}", rpc(config_pb2.TenantRequest(tenant=tenant), timeout=3)
            )
            if reply is None:
                raise LookupFailedError(f"config lookup {what} of {tenant}: tenant not found")
            return reply

        return await self._cached((what, tenant), fetch)

    async def routing_classes(self, tenant: str) -> list[config_pb2.RoutingClass]:
        reply = await self._tenant_wide("classes", tenant, self.config.ListRoutingClasses)
        return list(reply.classes)

    async def trunks(self, tenant: str) -> list[config_pb2.Trunk]:
        reply = await self._tenant_wide("trunks", tenant, self.config.ListTrunks)
        return list(reply.trunks)

    async def service_codes(self, tenant: str) -> config_pb2.ServiceCodes:
        return await self._tenant_wide("codes", tenant, self.config.GetServiceCodes)

    async def numbering_plan(self, tenant: str) -> config_pb2.NumberingPlan:
        return await self._tenant_wide("numbering", tenant, self.config.GetNumberingPlan)

    async def pickup_groups(self, tenant: str) -> list[config_pb2.PickupGroup]:
        reply = await self._tenant_wide("pickup", tenant, self.config.ListPickupGroups)
        return list(reply.groups)

    async def tenants(self) -> list[str]:
        reply = await self._call(
            "tenants", self.config.ListTenants(config_pb2.ListTenantsRequest(), timeout=3)
        )
        return [t.id for t in reply.tenants] if reply is not None else []

    async def verify_pin(self, tenant: str, number: str, pin: str) -> bool:
        """EXT-12: never cached, never logged."""
        req = config_pb2.VerifyServicePinRequest(tenant=tenant, number=number, pin=pin)
        reply = await self._call(
            f"PIN of {tenant}/{number}", self.config.VerifyServicePin(req, timeout=3)
        )
        return reply is not None and reply.ok

    async def location(self, username: str) -> registrar_pb2.Location | None:
        """The account's current location; an expired one counts as none (REG-05, OVF-06)."""
        try:
            entry = await self.locations.get(username)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        try:
            loc = registrar_pb2.Location.FromString(entry.value)
        except DecodeError:
            return None
        if loc.expires_unix_ms and loc.expires_unix_ms <= time.time() * 1000:
            return None
        return loc

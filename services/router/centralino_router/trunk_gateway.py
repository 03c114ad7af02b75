"""The tenants' SIP trunks as the router uses them: registration, next hops, and telling
an incoming call from a provider apart from one the SIP edge relays.

Trunks share the router's SIP socket. The provider therefore sees REGISTERs and INVITEs
from the address it sends incoming calls to; its responses to a REGISTER arrive as
responses no transaction of the B2BUA owns and are routed here by Call-ID. A request
without the edge's ``X-Centralino-Tenant`` header is from a provider when its source is
a trunk's resolved address; anything else is refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from centralino.sip.resolve import ResolutionError, SipResolver
from centralino.sip.transport import Address, TransportKind
from centralino_router.features.trunk_client import TrunkClient
from centralino_router.features.trunk_registration import TrunkState
from centralino_router.features.trunks import Trunk, account_for
from centralino_router.lookups import LookupFailedError, Lookups
from centralino_router.sipmsg import SipMessage

log = logging.getLogger(__name__)

#: how long a removed or shut-down trunk waits for the provider to confirm the removal
UNREGISTER_SECONDS = 5.0


class TrunkUnreachableError(RuntimeError):
    """A trunk's signalling address cannot be resolved."""


@dataclass(frozen=True, slots=True)
class TenantTrunk:
    tenant: str
    trunk: Trunk


class TrunkGateway:
    def __init__(
        self,
        lookups: Lookups,
        advertised: Address,
        send: Callable[[bytes, Address], None],
        resolver: SipResolver | None = None,
    ) -> None:
        self.lookups = lookups
        self.advertised = advertised
        self.send = send
        self.resolver = resolver or SipResolver(transports=(TransportKind.UDP,))
        self.states: dict[str, TrunkState] = {}
        self._clients: dict[str, tuple[Trunk, TrunkClient, asyncio.Task[None]]] = {}
        self._by_call_id: dict[str, TrunkClient] = {}
        self._by_address: dict[Address, TenantTrunk] = {}
        self._by_host: dict[str, TenantTrunk] = {}
        self._sync_lock = asyncio.Lock()
        self._synced = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    async def next_hop(self, trunk: Trunk) -> Address:
        """RFC 3263 resolution of the outbound proxy, else the registrar; UDP only."""
        try:
            targets = await self.resolver.resolve_uri(trunk.next_hop_uri)
        except ResolutionError as exc:
            raise TrunkUnreachableError(f"trunk {trunk.name}: {exc}") from exc
        for target in targets:
            if target.transport is TransportKind.UDP:
                return target.host, target.port
        raise TrunkUnreachableError(f"trunk {trunk.name}: no UDP target for {trunk.next_hop_uri}")

    def match(self, remote: Address) -> TenantTrunk | None:
        """The trunk a request from ``remote`` comes from: its exact address first, then
        its host, since providers often send from another port than they listen on."""
        return self._by_address.get(remote) or self._by_host.get(remote[0])

    def response(self, response: SipMessage) -> bool:
        """A response to one of our REGISTERs: hand it to its client."""
        client = self._by_call_id.get(response.call_id)
        if client is None:
            return False
        client.receive(response.encode())
        return True

    async def sync(self) -> None:
        """Bring registrations and address matching in line with config (at start and
        on every trunk change); a tenant whose trunks cannot be read keeps its old ones."""
        async with self._sync_lock:
            try:
                tenants = await self.lookups.tenants()
            except LookupFailedError as exc:
                log.warning("trunks not refreshed: %s", exc)
                return
            wanted: dict[str, TenantTrunk] = {}
            for tenant in tenants:
                try:
                    trunks = await self.lookups.trunks(tenant)
                except LookupFailedError as exc:
                    log.warning("trunks of %s not refreshed: %s", tenant, exc)
                    wanted.update({k: v for k, v in self._known().items() if v.tenant == tenant})
                    continue
                for pb in trunks:
                    if pb.enabled:
                        wanted[pb.id] = TenantTrunk(tenant, Trunk.from_proto(pb))
            await self._apply(wanted)
        await self._changed()

    async def _changed(self) -> None:
        async with self._synced:
            self._synced.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``predicate`` holds after a sync or a registration state change (a
        config change reaches the router as an event; this is how its effect is awaited)."""
        async with self._synced:
            await asyncio.wait_for(self._synced.wait_for(predicate), timeout)

    def _known(self) -> dict[str, TenantTrunk]:
        return {t.trunk.id: t for t in self._by_address.values()}

    async def _apply(self, wanted: dict[str, TenantTrunk]) -> None:
        by_address: dict[Address, TenantTrunk] = {}
        by_host: dict[str, TenantTrunk] = {}
        for entry in wanted.values():
            try:
                address = await self.next_hop(entry.trunk)
            except TrunkUnreachableError as exc:
                log.warning("%s", exc)
                continue
            by_address[address] = entry
            by_host.setdefault(address[0], entry)
        self._by_address, self._by_host = by_address, by_host
        for trunk_id in list(self._clients):
            trunk, _, _ = self._clients[trunk_id]
            current = wanted.get(trunk_id)
            if current is None or current.trunk != trunk or not current.trunk.register:
                self._stop(trunk_id)
        for trunk_id, entry in wanted.items():
            if entry.trunk.register and trunk_id not in self._clients:
                provider = next((a for a, e in by_address.items() if e is entry), None)
                if provider is not None:
                    self._start(entry.trunk, provider)

    def _start(self, trunk: Trunk, provider: Address) -> None:
        host, port = self.advertised
        account = account_for(
            trunk, contact=f"sip:{trunk.username}@{host}:{port}", via_sent_by=f"{host}:{port}"
        )

        def on_state(state: TrunkState) -> None:
            self.states[trunk.name] = state
            notify = asyncio.get_running_loop().create_task(self._changed())
            self._tasks.add(notify)
            notify.add_done_callback(self._tasks.discard)
            log.info(
                "trunk %s: %s %s", trunk.name, state.value, client.registration.last_error or ""
            )

        client = TrunkClient(account, provider, self.send, on_state)
        task = asyncio.get_running_loop().create_task(client.run())
        self._clients[trunk.id] = (trunk, client, task)
        self._by_call_id[client.call_id] = client

    def _stop(self, trunk_id: str) -> None:
        trunk, client, task = self._clients.pop(trunk_id)
        self.states.pop(trunk.name, None)
        stopping = asyncio.get_running_loop().create_task(self._unregister(client, task))
        self._tasks.add(stopping)
        stopping.add_done_callback(self._tasks.discard)

    async def _unregister(self, client: TrunkClient, task: asyncio.Task[None]) -> None:
        """Remove a registered binding at the provider before letting the trunk go, so
        it stops sending calls to a PBX that no longer takes them."""
        if client.registration.state is TrunkState.REGISTERED and not task.done():
            client.unregister()
            try:
                await asyncio.wait_for(client.unregistered.wait(), UNREGISTER_SECONDS)
            except TimeoutError:
                log.warning("trunk %s: unregistration got no answer", client.provider)
        self._by_call_id.pop(client.call_id, None)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        for trunk_id in list(self._clients):
            self._stop(trunk_id)
        await asyncio.gather(*self._tasks, return_exceptions=True)

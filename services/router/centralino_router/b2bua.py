"""The B2BUA on the router's internal SIP listener: dispatch, call table, lease renewal.

Every request from the SIP edge lands here. A new INVITE starts a :class:`Call`; anything
else is matched to its call by Call-ID: the caller's own, or the one we generated for a
forked branch. Responses are matched by the Via branch we generated (``wire.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from nats.errors import Error as NatsError

from centralino.bus import calls_subject, ringing_subject
from centralino.sip.transport import Address, Flow, TransportKind, TransportManager
from centralino.v1 import router_pb2
from centralino_router.call import Call
from centralino_router.counters import CallCounter, CounterConflictError
from centralino_router.features.enum_lookup import EnumResolver
from centralino_router.features.lock_store import LockStore
from centralino_router.legs import BranchLeg
from centralino_router.lookups import Lookups
from centralino_router.media import MediaClient, MediaError
from centralino_router.records import CallRecorder
from centralino_router.sipmsg import SipMessage, SipParseError, response_to
from centralino_router.trunk_gateway import TrunkGateway
from centralino_router.wire import Inbound, Wire

log = logging.getLogger(__name__)

#: how long a pickup or a transfer waits for the other router replicas to answer
RINGING_GATHER_SECONDS = 0.25

#: lease renewals in flight at once: thousands of calls renew without a burst of RPCs
RENEW_CONCURRENCY = 32

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY, MESSAGE"


class B2bua:
    def __init__(
        self,
        transport: TransportManager,
        advertised: Address,
        registrar: Address,
        lookups: Lookups,
        counter: CallCounter,
        media: MediaClient,
        recorder: CallRecorder,
        renew_seconds: float,
        lock_store: LockStore,
        enum_nameservers: tuple[list[str], int] | None = None,
    ) -> None:
        self.wire = Wire(transport, advertised, self._dispatch, self._stray_response)
        self.lock_store = lock_store
        self.trunks = TrunkGateway(lookups, advertised, self._send_raw)
        self._enum_nameservers = enum_nameservers
        self._enum: dict[str, EnumResolver] = {}
        self.registrar = registrar
        self.lookups = lookups
        self.counter = counter
        self.media = media
        self.recorder = recorder
        self.calls: dict[str, Call] = {}
        self._branches: dict[str, tuple[Call, BranchLeg]] = {}
        self._sessions: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renewer = asyncio.get_running_loop().create_task(self._renew(renew_seconds))

    # -- what calls use ---------------------------------------------------------------

    def enum(self, suffix: str) -> EnumResolver:
        """FEAT-07: a resolver for the tenant's ENUM suffix (one per suffix, reused)."""
        resolver = self._enum.get(suffix)
        if resolver is None:
            servers, port = self._enum_nameservers or (None, 53)
            resolver = EnumResolver(suffix, nameservers=servers, port=port)
            self._enum[suffix] = resolver
        return resolver

    def _send_raw(self, data: bytes, addr: Address) -> None:
        self.spawn(self.wire.transport.send_to(TransportKind.UDP, addr, data))

    def registrar_for(self, registrar_sip: str) -> Address:
        """The SIP edge replica holding the device's flow, else the configured one."""
        host, sep, port = registrar_sip.rpartition(":")
        if sep and port.isdigit() and host:
            return host.strip("[]"), int(port)
        return self.registrar

    def register_branch(self, call: Call, branch: BranchLeg) -> None:
        self._branches[branch.call_id] = (call, branch)

    @property
    def sip_address(self) -> str:
        host, port = self.wire.advertised
        return f"{host}:{port}"

    def ringing_in(self, tenant: str) -> list[Call]:
        """This replica's calls ringing at an extension of ``tenant`` (PICK-01..03)."""
        return [c for c in list(self.calls.values()) if c.record.tenant == tenant and c.is_ringing]

    def answered_call(self, tenant: str, call_id: str) -> Call | None:
        """The answered call ``call_id`` of ``tenant`` on this replica, if any."""
        call = self.calls.get(call_id)
        if call is None or call.ended or call.winner is None or call.record.tenant != tenant:
            return None
        return call

    async def ringing_calls(self, query: router_pb2.RingingQuery) -> router_pb2.RingingCalls:
        """This replica's calls ringing in ``query.tenant`` (served to the other replicas)."""
        return router_pb2.RingingCalls(
            calls=[
                router_pb2.RingingCall(
                    call_id=call.call_id,
                    extension=call.record.callee_extension,
                    ringing_since=call.ringing_since,
                    router_sip=self.sip_address,
                )
                for call in self.ringing_in(query.tenant)
            ]
        )

    async def ringing_elsewhere(self, tenant: str) -> list[router_pb2.RingingCall]:
        """The calls ringing in ``tenant`` on the other router replicas."""
        replies = await self.recorder.bus.gather(
            ringing_subject(tenant),
            router_pb2.RingingQuery(tenant=tenant),
            router_pb2.RingingCalls,
            RINGING_GATHER_SECONDS,
        )
        mine = self.sip_address
        return [c for reply in replies for c in reply.calls if c.router_sip != mine]

    async def where_is(self, query: router_pb2.CallQuery) -> router_pb2.CallWhereabouts | None:
        """Served to the other replicas: here, if this replica holds the answered call."""
        call = self.answered_call(query.tenant, query.call_id)
        if call is None:
            return None
        return router_pb2.CallWhereabouts(call_id=call.call_id, router_sip=self.sip_address)

    async def call_elsewhere(self, tenant: str, call_id: str) -> str | None:
        """The SIP address of the replica holding the answered call ``call_id``, if any."""
        replies = await self.recorder.bus.gather(
            calls_subject(tenant),
            router_pb2.CallQuery(tenant=tenant, call_id=call_id),
            router_pb2.CallWhereabouts,
            RINGING_GATHER_SECONDS,
        )
        mine = self.sip_address
        return next((r.router_sip for r in replies if r.router_sip != mine), None)

    def swap_caller(self, call: Call, former: BranchLeg, adopted: BranchLeg) -> None:
        """A caller transferred its device away: the device's dialog now reaches the call
        as its caller side, the former caller's as a branch (its NOTIFY and BYE)."""
        self.calls.pop(former.call_id, None)
        self._branches[former.call_id] = (call, former)
        self._branches.pop(adopted.call_id, None)
        self.calls[adopted.call_id] = call

    def media_session_started(self, call: Call, session_id: str) -> None:
        self._sessions[session_id] = call

    def media_session_ended(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())

    def forget(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        self.calls.pop(call.a.invite.call_id, None)  # a device adopted as the caller
        for branch in call.branches.values():
            self._branches.pop(branch.call_id, None)
        if call.winner is not None:  # a picker's dialog is no branch of ours
            self._branches.pop(call.winner.call_id, None)

    def media_inactive(self, session_id: str, call_id: str) -> None:
        """The media service reports a session without RTP (or failed): end its call."""
        call = self._sessions.get(session_id) or self.calls.get(call_id)
        if call is not None:
            call.post(call.media_inactive)

    # -- the listener -------------------------------------------------------------------

    def on_message(self, data: bytes, flow: Flow) -> None:
        self.wire.datagram(data, flow)

    def _stray_response(self, response: SipMessage) -> None:
        if self.trunks.response(response):
            return
        owned = self._branches.get(response.call_id)
        if owned is None:
            log.debug("stray %d response for %s", response.status, response.call_id)
            return
        call, branch = owned
        call.stray_response(branch, response)

    def _dispatch(self, req: SipMessage, inbound: Inbound) -> None:
        call_id = req.call_id
        call = self.calls.get(call_id)
        if call is not None:
            call.post(lambda: call.from_caller(req, inbound), received=req)
            return
        owned = self._branches.get(call_id)
        if owned is not None:
            owner, branch = owned
            owner.post(lambda: owner.from_branch(branch, req, inbound), received=req)
            return
        if req.method == "INVITE" and req.to_tag is None:
            from_trunk = None
            if req.get("X-Centralino-Tenant") is None:
                # not from the SIP edge: a provider's call, or refused by the call itself
                flow = self.wire.transport.flow(inbound.flow_id)
                from_trunk = self.trunks.match(flow.remote) if flow is not None else None
            try:
                new = Call(self, req, inbound, from_trunk)
            except SipParseError as exc:  # e.g. no Contact: no dialog can be formed
                self.wire.reply(response_to(req, exc.status, "Bad Request"), inbound)
                return
            self.calls[call_id] = new
            new.post(new.start)
            return
        if req.method == "OPTIONS" and req.to_tag is None:
            self.wire.reply(response_to(req, 200, "OK", extra=[("Allow", ALLOW)]), inbound)
            return
        if req.method != "ACK":
            self.wire.reply(response_to(req, 481, "Call/Transaction Does Not Exist"), inbound)

    # -- leases ---------------------------------------------------------------------------

    async def _renew(self, every: float) -> None:
        """Keep this replica's calls counted and their media sessions alive."""
        while True:
            await asyncio.sleep(every)
            by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
            for call in list(self.calls.values()):
                if not call.ended:
                    for key in call.counted:
                        by_key[key].add(call.call_id)
            limit = asyncio.Semaphore(RENEW_CONCURRENCY)
            await asyncio.gather(
                *(self._renew_counter(limit, key, ids) for key, ids in by_key.items()),
                *(self._renew_session(limit, sid) for sid in list(self._sessions)),
            )

    async def _renew_counter(
        self, limit: asyncio.Semaphore, key: tuple[str, str], call_ids: set[str]
    ) -> None:
        async with limit:
            try:
                await self.counter.renew(key[0], key[1], call_ids)
            except (CounterConflictError, NatsError, TimeoutError) as exc:
                # the next round retries; the lease outlives a few missed renewals
                log.warning("lease renewal of %s.%s failed: %s", key[0], key[1], exc)

    async def _renew_session(self, limit: asyncio.Semaphore, session_id: str) -> None:
        async with limit:
            if session_id not in self._sessions:
                return  # released while waiting
            try:
                await self.media.renew(session_id)
            except MediaError as exc:
                log.warning("%s", exc)

    async def close(self) -> None:
        await self.trunks.close()
        self._renewer.cancel()
        steps = [t for call in list(self.calls.values()) for t in call.cancel_steps()]
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(self._renewer, *self._tasks, *steps, return_exceptions=True)
        self.wire.close()

"""One call through the B2BUA: from the caller's INVITE to the CDR row.

The decisions come from the sans-IO cores (``admission``, ``fork``, ``overflow``); this
module is the adapter that feeds them SIP, time and lookups and carries out their actions.
Everything a call does runs one step at a time under its own lock, in arrival order, so
a CANCEL that crosses a 200 OK is handled after it, never interleaved with it.

What the SIP edge tells us in headers: ``X-Centralino-Account`` and ``X-Centralino-Tenant``
(who calls), ``X-Centralino-Origin`` (``internal`` by default; ``external`` and
``transfer`` come from trunks and transfers, which select the overflow of that origin).

Statuses the caller may see besides the callee's own answers:

* 200 then BYE — a lock or unlock service code was served (every stream declined);
* 403 ``Call Limit Reached`` — the caller's extension is at its concurrent-call limit (LIM-01);
* 403 ``Forbidden`` (detail names class and rule) — the routing class denies the number (COS-01);
* 403 ``PIN Required`` / ``Wrong PIN`` / ``Too Many Attempts`` — unlock refused (LOCK-04, EXT-12);
* 403 / 480 — a pickup the groups do not allow (PICK-03) / with nothing ringing;
* 484 ``Address Incomplete`` — a service code with a malformed argument;
* 403 ``Forbidden`` — unknown, disabled or cross-tenant calling account (should not pass the edge);
* 404 ``Not Found`` — the dialled number is not an extension of the tenant;
* 486 / 480 / 408 — busy, unavailable, no answer with a hang-up overflow (OVF-04/05/03);
* 400 ``Bad Request`` — unknown origin;
* 500 — a bug while handling the call (logged with the Call-ID; both sides are hung up);
* 503 ``Service Unavailable`` — config, media, lock state or trunk unreachable;
* a trunk's or ENUM target's own final answer for calls out of the PBX.

Trunks, pickup and transfers: ADR 0009.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry import trace

from centralino.logs import call_context
from centralino.sip.message import REASON_PHRASES
from centralino.sip.resolve import ResolutionError
from centralino.v1 import config_pb2, media_pb2
from centralino_router import metrics, tracing
from centralino_router.admission import Verdict, admit_incoming, admit_outgoing
from centralino_router.features.classes import Allowed, Denied, route
from centralino_router.features.dialplan import (
    DialPlanError,
    ExternalCall,
    InternalCall,
    Service,
    ServiceCall,
    classify,
)
from centralino_router.features.lock import (
    ClassChoice,
    LockSettings,
    Result,
    UnlockMode,
    call_placed,
    class_for,
    lock,
    pin_checkable,
    unlock,
)
from centralino_router.features.lock_store import LockStoreError
from centralino_router.features.pickup import (
    RingingCall,
    select_directed_pickup,
    select_group_pickup,
)
from centralino_router.features.trunks import Trunk, extension_for_did
from centralino_router.fork import (
    Action,
    CancelBranches,
    Connect,
    Failed,
    Fork,
    ForkState,
    HangUpLate,
    Ringing,
)
from centralino_router.legs import AdoptedCaller, BranchLeg, CallerLeg, Dialog, PickupLeg
from centralino_router.lookups import LookupFailedError, extension_policy
from centralino_router.media import (
    CALLER_LEG,
    DEVICE_LEG,
    MediaError,
    leg_sdp,
    leg_spec,
    needs_anchor,
)
from centralino_router.overflow import DialNumber, HangUp, RingExtension, decide
from centralino_router.policy import Cause, ExtensionPolicy, Origin, PolicyError
from centralino_router.records import CallRecord
from centralino_router.routing import lock_settings, numbering_plan, routing_class
from centralino_router.service_answer import declining_answer
from centralino_router.sipmsg import SipMessage, SipParseError, response_to, uri_of, uri_user
from centralino_router.transfer import (
    ReferError,
    Replaces,
    parse_refer_to,
    parse_replaces,
    sipfrag,
)
from centralino_router.trunk_gateway import TenantTrunk, TrunkUnreachableError
from centralino_router.wire import Inbound

if TYPE_CHECKING:
    from centralino_router.b2bua import B2bua

log = logging.getLogger(__name__)

#: names the ringing call a pickup is for, when one replica sends the pickup to another
PICKUP_HEADER = "X-Centralino-Pickup"
#: names the consultation call (``callid;to-tag=..;from-tag=..``) an attended transfer
#: joins, when the transferred call is on one replica and the consultation on another
REPLACES_HEADER = "X-Centralino-Replaces"

#: how long a finished call stays matchable for late messages (64*T1)
LINGER_SECONDS = 32.0


def _has_class(ext: config_pb2.Extension) -> bool:
    """Whether the extension has any outbound routing class (COS-01, COS-02)."""
    return bool(ext.standard_class_id or ext.restricted_class_id)


class CallFinished(Exception):
    """Internal: the caller has its final answer; stop the set-up."""


class Call:
    def __init__(
        self,
        b2bua: B2bua,
        invite: SipMessage,
        inbound: Inbound,
        from_trunk: TenantTrunk | None = None,
    ) -> None:
        self.b2bua = b2bua
        #: a call a provider sent us (origin external); None for calls from the SIP edge
        self.from_trunk = from_trunk
        self.wire = b2bua.wire
        self.call_id = invite.call_id
        self.a = CallerLeg(self.wire, invite, inbound)
        self.branches: dict[str, BranchLeg] = {}
        self.fork: Fork | None = None
        self.winner: BranchLeg | None = None
        self.policy: ExtensionPolicy | None = None
        self.caller: config_pb2.Account | None = None
        self.caller_ext: config_pb2.Extension | None = None
        #: the call goes out of the PBX (trunk or ENUM): a failure ends it, no overflow
        self.outbound = False
        #: a service code was served: the 2xx only carries the result, BYE follows the ACK
        self._bye_on_ack = False
        #: the answered caller waits while a transfer target rings (OVF-01 origin transfer)
        self._transferring = False
        #: a join for another replica's attended transfer: the ACK's answer goes on to
        #: the consulted party
        self._ack_joined: Callable[[bytes], None] | None = None
        self.visited: frozenset[str] = frozenset()
        self.counted: set[tuple[str, str]] = set()
        #: media sessions by branch while ringing; only the winner's is kept
        self.sessions: dict[str, media_pb2.MediaSession] = {}
        self.offer = invite.body
        self.origin = Origin.INTERNAL
        self.record = CallRecord(
            call_id=self.call_id,
            tenant=from_trunk.tenant if from_trunk else invite.get("X-Centralino-Tenant") or "",
            origin=self.origin.value,
            dialled=uri_user(invite.uri),
            started=time.time(),
        )
        self.ended = False
        self.cancelled = False
        #: when the current target started ringing (the oldest call is picked up first)
        self.ringing_since = 0.0
        # The call is one span under the registrar's (from the INVITE's traceparent);
        # every step runs in it, so gRPC metadata, NATS headers and the SIP we send
        # carry the same trace.
        self._span = tracing.tracer.start_span(
            f"call {self.record.dialled}",
            context=tracing.extract(invite),
            kind=trace.SpanKind.SERVER,
            attributes={"sip.call_id": self.call_id, "centralino.tenant": self.record.tenant},
        )
        self._trace = trace.set_span_in_context(self._span)
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._reinvite: asyncio.Future[SipMessage] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- serialisation -----------------------------------------------------------

    def post(
        self,
        step: Callable[[], Coroutine[Any, Any, None]],
        received: SipMessage | None = None,
    ) -> None:
        """Run ``step`` after every step posted before it, in the call's trace.

        ``received`` is the request the step handles: the registrar traced it as its own
        message, so the step gets a span of its own linked to that trace.
        """

        async def run() -> None:
            token = otel_context.attach(self._trace)
            try:
                async with self._lock:
                    with call_context(self.call_id), self._step_span(received):
                        try:
                            await step()
                        except CallFinished:
                            pass
                        except Exception:  # a bug in one call must not take the router down
                            log.exception("call step failed")
                            await self._abort()
            finally:
                otel_context.detach(token)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _step_span(received: SipMessage | None) -> contextlib.AbstractContextManager[Any]:
        if received is None:
            return contextlib.nullcontext()
        edge = trace.get_current_span(tracing.extract(received)).get_span_context()
        links = [trace.Link(edge)] if edge.is_valid else []
        return tracing.tracer.start_as_current_span(
            f"SIP {received.method}", links=links, attributes={"sip.call_id": received.call_id}
        )

    def cancel_steps(self) -> list[asyncio.Task[None]]:
        """Cancel the steps not yet run and the timers (router shutdown); returns the
        steps to be awaited."""
        self._end_span("shutdown")
        self._disarm_timer()
        self.a.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks

    # -- set-up --------------------------------------------------------------------

    async def start(self) -> None:
        self.a.respond(100, "Trying")
        if self.from_trunk is not None:
            await self._start_from_trunk(self.from_trunk)
            return
        invite = self.a.invite
        joined = invite.get(REPLACES_HEADER)
        if joined is not None and self.record.tenant:
            await self._join_consultation(joined)
            return
        raw_origin = (invite.get("X-Centralino-Origin") or Origin.INTERNAL.value).lower()
        if raw_origin not in Origin.__members__.values():
            await self.finish(400, "Bad Request", "bad_request", f"unknown origin {raw_origin!r}")
        self.origin = Origin(raw_origin)
        self.record.origin = self.origin.value
        username = invite.get("X-Centralino-Account") or ""
        if not self.record.tenant:
            await self.finish(403, "Forbidden", "forbidden", "missing X-Centralino-Tenant")
        if username:
            await self._identify_caller(username)
        elif self.origin is Origin.EXTERNAL:
            # a call from outside: the identity is whatever the far end presented
            from_header = invite.require("From")
            self.record.caller_extension = uri_user(uri_of(from_header))
            display = from_header.split("<", 1)[0].strip().strip('"')
            self.record.caller_display_name = display
        else:
            await self.finish(403, "Forbidden", "forbidden", "missing X-Centralino-Account")
        await self.b2bua.recorder.publish(self.record, "created", time.time())
        if self.caller_ext is not None and self.origin is Origin.INTERNAL:
            await self._dial_from_phone(self.caller_ext, self.record.dialled)
            return
        await self.ring(self.record.dialled, first=True)

    async def _start_from_trunk(self, source: TenantTrunk) -> None:
        """A provider's INVITE: the DID selects the extension, whose external-origin
        overflow then applies (OVF-01)."""
        invite = self.a.invite
        trunk = source.trunk
        self.origin = Origin.EXTERNAL
        self.record.origin = self.origin.value
        from_header = invite.require("From")
        self.record.caller_extension = uri_user(uri_of(from_header))
        self.record.caller_display_name = from_header.split("<", 1)[0].strip().strip('"')
        called = uri_user(invite.uri) or uri_user(uri_of(invite.require("To")))
        self.record.dialled = called
        await self.b2bua.recorder.publish(self.record, "created", time.time())
        extension = extension_for_did(trunk, called)
        if extension is None:
            await self.finish(
                404, "Not Found", "not_found", f"trunk {trunk.name}: no extension for {called}"
            )
        assert extension is not None
        await self.ring(extension, first=True)

    async def _dial_from_phone(self, caller_ext: config_pb2.Extension, dialled: str) -> None:
        """What a phone dialled: an extension rings; a service code, or a number outside
        the PBX, goes through the numbering plan first."""
        tenant = self.record.tenant
        ext = await self._lookup(self.b2bua.lookups.extension(tenant, dialled))
        if ext is not None and dialled[:1] not in ("*", "#"):
            await self.ring(dialled, first=True)
            return
        codes = await self._lookup(self.b2bua.lookups.service_codes(tenant))
        try:
            kind = classify(dialled, numbering_plan(codes, None), lambda _: ext is not None)
        except DialPlanError as exc:
            if dialled[:1] in ("*", "#"):
                await self.finish(484, "Address Incomplete", "bad_number", str(exc))
            await self.finish(404, "Not Found", "not_found", f"no extension {dialled}")
            return
        if isinstance(kind, InternalCall):
            await self.ring(kind.extension, first=True)
        elif isinstance(kind, ServiceCall):
            if kind.service in (Service.LOCK, Service.UNLOCK):
                await self._lock_service(caller_ext, kind)
            else:
                await self._pickup(caller_ext, kind)
        elif not _has_class(caller_ext):
            # no outbound routing at all: the number is simply not one of ours
            await self.finish(404, "Not Found", "not_found", f"no extension {dialled}")
        else:
            await self._route_number(kind.number, caller_ext, spend_lock=True)

    # -- service codes -------------------------------------------------------------

    async def _lock_settings(self, ext: config_pb2.Extension) -> LockSettings:
        """The extension's lock settings; a malformed document ends the call with 500."""
        try:
            return lock_settings(ext)
        except PolicyError as exc:
            await self.finish(500, "Server Internal Error", "bad_config", str(exc))

    async def _lock_service(self, ext: config_pb2.Extension, kind: ServiceCall) -> None:
        """LOCK-03/04, EXT-12: lock or unlock the caller's extension. A refusal is a 403
        naming why; success answers and hangs up once the phone has ACKed."""
        tenant = self.record.tenant
        cfg = await self._lock_settings(ext)
        store = self.b2bua.lock_store
        now = time.time()
        try:
            if kind.service is Service.LOCK:
                outcome = await store.change(tenant, ext.number, lambda s: lock(cfg, s, now))
            else:
                pin = kind.argument or None
                valid = False
                if cfg.mode is UnlockMode.PASSWORD and pin is not None:
                    state, _ = await store.read(tenant, ext.number)
                    if pin_checkable(state, now):
                        valid = bool(
                            await self._lookup(
                                self.b2bua.lookups.verify_pin(tenant, ext.number, pin)
                            )
                        )
                outcome = await store.change(
                    tenant, ext.number, lambda s: unlock(cfg, s, now, pin, pin_valid=valid)
                )
        except LockStoreError as exc:
            await self.finish(503, "Service Unavailable", "lock_unavailable", str(exc))
            return
        detail = f"{kind.service.value} of {ext.number}: {outcome.result.value}"
        if outcome.refused:
            reason, extra = {
                Result.PIN_REQUIRED: ("PIN Required", []),
                Result.WRONG_PIN: ("Wrong PIN", []),
                Result.THROTTLED: (
                    "Too Many Attempts",
                    [("Retry-After", str(max(1, round(outcome.retry_after))))],
                ),
            }[outcome.result]
            await self.finish(403, reason, "service_refused", detail, extra=extra)
        self.record.detail = detail
        log.info("service code: %s", detail)
        self._bye_on_ack = True
        self.record.answered = time.time()
        self.a.respond(
            200, "OK", declining_answer(self.offer), on_no_ack=lambda: self.post(self._no_ack)
        )

    # -- call pickup (PICK-01..03) -----------------------------------------------------------

    @property
    def is_ringing(self) -> bool:
        """Ringing at an extension of this PBX, so it may be picked up."""
        return (
            self.fork is not None
            and self.fork.state is ForkState.RINGING
            and bool(self.fork.branches)
            and self.winner is None
            and not (self.ended or self.cancelled or self.outbound)
        )

    async def _pickup(self, picker: config_pb2.Extension, kind: ServiceCall) -> None:
        """The picker's call: find the call it may take, on any router replica, and hand
        this dialog over to it. A call ringing on another replica is reached by sending
        this pickup there (``X-Centralino-Pickup`` names the call), which then bridges."""
        tenant = self.record.tenant
        forwarded = self.a.invite.get(PICKUP_HEADER)
        groups = await self._lookup(self.b2bua.lookups.pickup_groups(tenant))
        authorised = {g.id for g in groups if picker.number in g.authorised_numbers}

        def member_of(number: str) -> frozenset[str]:
            return frozenset(g.id for g in groups if number in g.member_numbers)

        ringing = [
            RingingCall(
                c.call_id,
                c.record.callee_extension,
                member_of(c.record.callee_extension),
                c.ringing_since,
            )
            for c in self.b2bua.ringing_in(tenant)
            if c is not self
        ]
        elsewhere: dict[str, str] = {}
        if forwarded is None:
            for remote in await self.b2bua.ringing_elsewhere(tenant):
                elsewhere[remote.call_id] = remote.router_sip
                ringing.append(
                    RingingCall(
                        remote.call_id,
                        remote.extension,
                        member_of(remote.extension),
                        remote.ringing_since,
                    )
                )
        else:  # another replica chose this call; the rule is checked again here
            ringing = [r for r in ringing if r.call_id == forwarded]
        if kind.service is Service.PICKUP:
            target = select_group_pickup(picker.number, authorised, ringing)
            wanted = [r for r in ringing if r.extension != picker.number]
        else:
            target = select_directed_pickup(authorised, kind.argument, ringing)
            wanted = [r for r in ringing if r.extension == kind.argument]
        if target is None:
            if wanted:  # PICK-03: ringing, but not in a group the picker may take from
                detail = (
                    f"{picker.number} may not pick up at {sorted({r.extension for r in wanted})}"
                )
                await self.finish(403, "Forbidden", "pickup_refused", detail)
            await self.finish(
                480, "Temporarily Unavailable", "nothing_to_pick_up", "no call is ringing"
            )
        assert target is not None
        if target.call_id in elsewhere:
            await self._pickup_elsewhere(target.call_id, elsewhere[target.call_id])
            return
        call = self.b2bua.calls[target.call_id]
        taken: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        call.post(lambda: call.picked_up(self, taken))
        if not await taken:
            await self.finish(
                480, "Temporarily Unavailable", "nothing_to_pick_up", "answered or ended meanwhile"
            )
        self.record.detail = f"picked up {target.call_id} ringing at {target.extension}"
        await self.end("picked_up", 200)

    async def _pickup_elsewhere(self, call_id: str, router_sip: str) -> None:
        """Send this pickup to the replica where the call rings; this call then bridges
        the picker to that replica like any other leg (media is anchored there)."""
        assert self.caller is not None
        account = ("X-Centralino-Account", self.caller.username)
        await self._to_replica(
            "pickup", router_sip, self.record.dialled, [account, (PICKUP_HEADER, call_id)]
        )

    async def _to_replica(
        self, purpose: str, router_sip: str, user: str, extra: list[tuple[str, str]]
    ) -> None:
        """A leg to another router replica, which anchors media itself if it has to."""
        host, _, port = router_sip.rpartition(":")
        await self._call_out(
            f"{purpose}@{router_sip}",
            f"sip:{user}@{router_sip}",
            (host, int(port)),
            user,
            None,
            extra=[("X-Centralino-Tenant", self.record.tenant), *extra],
            anchor=False,
        )

    async def picked_up(self, picker: Call, taken: asyncio.Future[bool]) -> None:
        """This ringing call is taken by ``picker``: its devices stop ringing and the
        picker's dialog becomes this call's answered leg."""
        if not self.is_ringing or picker.caller is None:
            taken.set_result(False)
            return
        self._disarm_timer()
        self.fork = None  # a late 2xx from a device is hung up (see _branch_response)
        for branch in self.branches.values():
            branch.cancel('SIP;cause=200;text="Call completed elsewhere"')
        self._drop_counter(self.record.tenant, self.record.callee_extension)
        await self._release_media("picked up")
        leg = PickupLeg(self.wire, picker.caller.username, picker.a)
        to_caller, to_picker = picker.offer, self.offer
        if needs_anchor(self.caller, [picker.caller]):
            try:
                legs = [leg_spec(CALLER_LEG, self.caller), leg_spec(DEVICE_LEG, picker.caller)]
                session = await self.b2bua.media.allocate(self.call_id, self.record.tenant, legs)
                self.b2bua.media_session_started(self, session.session_id)
                if self.offer:
                    session = await self.b2bua.media.update(
                        session.session_id, CALLER_LEG, self.offer, is_offer=True
                    )
                if picker.offer:
                    session = await self.b2bua.media.update(
                        session.session_id, DEVICE_LEG, picker.offer, is_offer=True
                    )
                self.sessions[leg.name] = session
                to_caller, to_picker = leg_sdp(session, CALLER_LEG), leg_sdp(session, DEVICE_LEG)
            except MediaError as exc:
                log.warning("pickup not anchored: %s", exc)
                taken.set_result(False)
                await self.finish(503, "Service Unavailable", "media_unavailable", str(exc))
        self.record.direct_media = leg.name not in self.sessions
        # the picker's call now lives on in this one: its dialog, its count
        self.b2bua.calls.pop(picker.call_id, None)
        self.b2bua.register_branch(self, leg)
        self.counted |= picker.counted
        picker.counted.clear()
        self.winner = leg
        picker.a.respond(200, "OK", to_picker, on_no_ack=lambda: self.post(self._no_ack))
        self.record.callee_extension = picker.record.caller_extension
        self.record.callee_account = leg.name
        self.record.detail = f"picked up by {leg.name}"
        self.record.answered = time.time()
        self.a.respond(200, "OK", to_caller, on_no_ack=lambda: self.post(self._no_ack))
        taken.set_result(True)
        await self.b2bua.recorder.publish(self.record, "answered", time.time())

    # -- transfers (REFER, RFC 3515; Replaces, RFC 3891) ---------------------------------------

    async def _on_refer(
        self,
        req: SipMessage,
        transferor: BranchLeg | None,
        answer: Callable[[int, str, bytes], None],
    ) -> None:
        """A party transfers the other: blind to a number, or attended to the party of
        its consultation call (``Refer-To`` with ``Replaces``). ``transferor`` None: the
        caller transfers, and the answered device takes the caller's place."""
        try:
            target = parse_refer_to(req.get("Refer-To"))
        except ReferError as exc:
            log.info("REFER refused: %s", exc)
            answer(400, "Bad Refer-To", b"")
            return
        consult = None
        consult_at = None
        if target.replaces is not None:
            consult = self._consultation(target.replaces)
            if consult is None:
                consult_at = await self.b2bua.call_elsewhere(
                    self.record.tenant, target.replaces.call_id
                )
            if consult is None and consult_at is None:
                answer(481, "Call/Transaction Does Not Exist", b"")
                return
        answer(202, "Accepted", b"")
        if transferor is None:
            transferor = await self._adopt_device()
        transferor_ext = self.record.callee_extension
        self.winner = None
        self._drop_counter(self.record.tenant, transferor_ext)
        await self._release_media("transferred")
        self.record.detail = f"transferred by {transferor.name} to {target.user}"
        await self.b2bua.recorder.publish(self.record, "transferred", time.time())
        if consult is not None:
            await self._attended(consult, transferor)
            return
        # blind, or attended to another replica: the transferor's part is done now
        self._notify_and_release(transferor, 200, "OK")
        self._transferring = True
        if target.replaces is not None and consult_at is not None:
            await self._attended_elsewhere(target.user, target.replaces, consult_at)
            return
        self.origin = Origin.TRANSFER
        self.record.origin = self.origin.value
        self.visited = frozenset()
        self.fork = None
        await self._transfer_to(target.user, transferor_ext)

    async def _adopt_device(self) -> BranchLeg:
        """The caller transfers: the answered device becomes this call's caller side and
        the caller becomes the transferor leg; the record swaps the parties to match."""
        device = self.winner
        assert device is not None and device.dialog is not None
        former = PickupLeg(self.wire, self.record.caller_account or "caller", self.a)
        self.branches.pop(device.name, None)
        self.branches[f"transferor:{former.name}"] = former
        self.b2bua.swap_caller(self, former, device)
        self.a = AdoptedCaller(device)
        caller_ext = self.record.caller_extension
        account = None
        with contextlib.suppress(LookupFailedError):
            account = await self.b2bua.lookups.account(device.name)
        self.caller = account
        if account is not None:
            with contextlib.suppress(LookupFailedError):
                self.caller_ext = await self.b2bua.lookups.extension(
                    self.record.tenant, account.extension_number
                )
        record = self.record
        record.caller_extension, record.callee_extension = record.callee_extension, caller_ext
        record.caller_account, record.callee_account = device.name, former.name
        self.offer = device.answer.body if device.answer is not None else b""
        return former

    async def _transfer_to(self, number: str, transferor_ext: str) -> None:
        """Ring ``number`` for the waiting caller: an extension with its transfer-origin
        overflow, anything else under the transferor's class (without spending its lock)."""
        tenant = self.record.tenant
        ext = await self._lookup(self.b2bua.lookups.extension(tenant, number))
        if ext is not None:
            await self.ring(number)
            return
        owner = await self._lookup(self.b2bua.lookups.extension(tenant, transferor_ext))
        if owner is None or not _has_class(owner):
            await self.finish(404, "Not Found", "not_found", f"transfer to unknown {number}")
        await self._route_number(number, owner, spend_lock=False)

    def _consultation(self, replaces: Replaces) -> Call | None:
        """The transferor's consultation call an attended transfer names: it must be an
        answered call of this tenant whose caller-side dialog matches exactly."""
        call = self.b2bua.answered_call(self.record.tenant, replaces.call_id)
        if call is None or call is self:
            return None
        tags = {call.a.local_tag, call.a.invite.from_tag or ""}
        return call if replaces.names(call.call_id, tags) else None

    async def _attended(self, consult: Call, transferor: BranchLeg) -> None:
        """Join the waiting caller with the consulted party; the transferor leaves both."""
        taken = await self._take_consulted(consult)
        if taken is None:
            self._notify_and_release(transferor, 481, "Call/Transaction Does Not Exist")
            await self.finish(
                480, "Temporarily Unavailable", "transfer_failed", "consultation ended"
            )
        assert taken is not None
        self._notify_and_release(transferor, 200, "OK")
        leg, extension = taken
        offered = await self._offer_of(leg, extension)
        if offered is None:
            await self.finish(
                480, "Temporarily Unavailable", "transfer_failed", "consulted party refused"
            )
        assert offered is not None
        await self._reconnect(leg, *offered)

    async def _take_consulted(self, consult: Call) -> tuple[BranchLeg, str] | None:
        """The consultation call's answered party and its extension, handed over by the
        consultation call in its own step; None when it is gone."""
        handed: asyncio.Future[tuple[BranchLeg, str] | None]
        handed = asyncio.get_running_loop().create_future()
        consult.post(lambda: consult.hand_over(handed))
        return await handed

    async def _offer_of(
        self, leg: BranchLeg, extension: str
    ) -> tuple[bytes, Callable[[bytes], None]] | None:
        """Make the consulted party a leg of this call and ask it for a fresh offer (an
        offerless re-INVITE, RFC 3725 flow I): the offer, and how to send the answer in
        the ACK. None when it refuses."""
        tenant = self.record.tenant
        self.branches[leg.name] = leg
        self.b2bua.register_branch(self, leg)
        self.record.callee_extension = extension
        self.record.callee_account = leg.name
        added, _ = await self.b2bua.counter.try_add(tenant, extension, self.call_id, lambda _: True)
        if added:
            self.counted.add((tenant, extension))
        dialog = leg.dialog
        assert dialog is not None
        resp = await self._send_in_dialog(dialog, "INVITE", leg, ack_later=True)
        if not 200 <= resp.status < 300 or not resp.body:
            return None

        def ack(body: bytes) -> None:
            request = dialog.request(
                "ACK", body, cseq=resp.cseq[0], extra=leg.extra_for_in_dialog()
            )
            self.wire.send_stateless(request, dialog.next_hop)

        return resp.body, ack

    async def _attended_elsewhere(self, user: str, replaces: Replaces, router_sip: str) -> None:
        """The consultation call is on another replica: call it there without an offer,
        naming the consultation; that replica joins its consulted party to this leg and
        this call joins the caller to it as for a blind transfer (RFC 3725 flow I)."""
        named = f"{replaces.call_id};to-tag={replaces.to_tag};from-tag={replaces.from_tag}"
        await self._to_replica("replaces", router_sip, user, [(REPLACES_HEADER, named)])
        self.record.callee_extension = user  # the consulted party, as the transferor knew it

    async def _join_consultation(self, named: str) -> None:
        """Another replica's attended transfer: take the consulted party of the named
        consultation call here and answer this offerless INVITE with that party's offer;
        the answer comes back in the ACK and is passed on (RFC 3725 flow I)."""
        try:
            replaces = parse_replaces(named)
        except ReferError as exc:
            await self.finish(400, "Bad Request", "bad_request", str(exc))
        consult = self._consultation(replaces)
        if consult is None:
            await self.finish(481, "Call/Transaction Does Not Exist", "transfer_failed")
        assert consult is not None
        taken = await self._take_consulted(consult)
        if taken is None:
            await self.finish(481, "Call/Transaction Does Not Exist", "transfer_failed")
        assert taken is not None
        leg, extension = taken
        self.origin = Origin.TRANSFER
        self.record.origin = self.origin.value
        self.winner = leg
        offered = await self._offer_of(leg, extension)
        if offered is None:
            await self.finish(480, "Temporarily Unavailable", "transfer_failed", "party refused")
        assert offered is not None
        offer, ack = offered
        self._ack_joined = ack
        self.record.answered = time.time()
        self.a.respond(200, "OK", offer, on_no_ack=lambda: self.post(self._no_ack))
        await self.b2bua.recorder.publish(self.record, "answered", time.time())

    async def hand_over(self, handed: asyncio.Future[tuple[BranchLeg, str] | None]) -> None:
        """This consultation call gives its answered party to an attended transfer and
        ends; the transferor's leg is hung up."""
        leg = self.winner
        if leg is None or leg.dialog is None or self.ended:
            handed.set_result(None)
            return
        self.branches.pop(leg.name, None)
        self.winner = None
        self._send_in_dialog(self.a.dialog, "BYE", None)
        handed.set_result((leg, self.record.callee_extension))
        self.record.detail = "consultation joined by an attended transfer"
        await self.end("transferred", 200)

    def _notify_and_release(self, transferor: BranchLeg, status: int, reason: str) -> None:
        """Report the transfer's outcome (RFC 3515 §2.4.5), then hang the transferor up."""
        if transferor.dialog is None:
            return
        self._send_in_dialog(
            transferor.dialog,
            "NOTIFY",
            transferor,
            sipfrag(status, reason),
            [("Event", "refer"), ("Subscription-State", "terminated;reason=noresource")],
            content_type="message/sipfrag",
        )
        self._send_in_dialog(transferor.dialog, "BYE", transferor)

    async def _reconnect(self, leg: BranchLeg, offer: bytes, ack: Callable[[bytes], None]) -> None:
        """Third-party call control (RFC 3725 flow I): ``leg`` offered ``offer``; the
        caller gets it in a re-INVITE and its answer goes back in ``leg``'s ACK. Anchored
        calls put a fresh media session between the two."""
        self._transferring = False
        self.winner = leg
        account = None
        if ":" not in leg.name and leg.name != "enum":
            with contextlib.suppress(LookupFailedError):
                account = await self.b2bua.lookups.account(leg.name)
        to_caller, session = offer, None
        if needs_anchor(self.caller, [account] if account is not None else []):
            try:
                legs = [leg_spec(CALLER_LEG, self.caller), leg_spec(DEVICE_LEG, account)]
                session = await self.b2bua.media.allocate(self.call_id, self.record.tenant, legs)
                self.b2bua.media_session_started(self, session.session_id)
                self.sessions[leg.name] = session
                session = await self.b2bua.media.update(
                    session.session_id, DEVICE_LEG, offer, is_offer=True
                )
                to_caller = leg_sdp(session, CALLER_LEG)
            except MediaError as exc:
                log.warning("transferred call not anchored: %s", exc)
                session = None
        self.record.direct_media = session is None
        resp = await self._send_in_dialog(self.a.dialog, "INVITE", None, to_caller)
        if not 200 <= resp.status < 300 or not resp.body:
            ack(offer)  # the 2xx must be ACKed before the BYE
            if leg.dialog is not None:
                self._send_in_dialog(leg.dialog, "BYE", leg)
            await self.finish(resp.status or 500, resp.reason or "Error", "transfer_failed")
            return
        to_leg = resp.body
        if session is not None:
            try:
                session = await self.b2bua.media.update(
                    session.session_id, CALLER_LEG, resp.body, is_offer=False
                )
                self.sessions[leg.name] = session
                to_leg = leg_sdp(session, DEVICE_LEG)
            except MediaError as exc:
                log.warning("caller's answer not anchored: %s", exc)
        ack(to_leg)
        self.record.callee_account = leg.name
        await self.b2bua.recorder.publish(self.record, "answered", time.time())

    # -- calls out of the PBX --------------------------------------------------------------

    async def _route_number(
        self, number: str, owner: config_pb2.Extension, *, spend_lock: bool
    ) -> None:
        """``number`` out of the PBX under ``owner``'s class, with its E.164 form (for
        ENUM) from the tenant's numbering plan."""
        tenant = self.record.tenant
        codes = await self._lookup(self.b2bua.lookups.service_codes(tenant))
        plan_pb = await self._lookup(self.b2bua.lookups.numbering_plan(tenant))
        kind = ExternalCall(number, numbering_plan(codes, plan_pb).to_e164(number))
        await self._route_external(kind, owner, plan_pb.enum_suffix, spend_lock=spend_lock)

    async def _route_external(
        self,
        kind: ExternalCall,
        owner: config_pb2.Extension,
        enum_suffix: str,
        *,
        spend_lock: bool,
    ) -> None:
        """COS-01..03, LOCK-10, FEAT-07: the owner's class decides whether ``kind`` may be
        dialled and through which trunk; ENUM may then replace the trunk. ``spend_lock``:
        the owner placed this call, so a per-call unlock is used up (LOCK-06); a forward
        on an extension's behalf only reads the lock."""
        tenant = self.record.tenant
        cfg = await self._lock_settings(owner)
        now = time.time()
        store = self.b2bua.lock_store
        try:
            if spend_lock:
                choice = await store.change(
                    tenant, owner.number, lambda s: call_placed(cfg, s, now)
                )
            else:
                state, _ = await store.read(tenant, owner.number)
                choice = class_for(cfg, state, now)
        except LockStoreError as exc:
            await self.finish(503, "Service Unavailable", "lock_unavailable", str(exc))
            return
        class_id = (
            owner.standard_class_id if choice is ClassChoice.STANDARD else owner.restricted_class_id
        )
        classes = await self._lookup(self.b2bua.lookups.routing_classes(tenant))
        found = next((c for c in classes if c.id == class_id), None)
        decision: Allowed | Denied
        if found is None:
            decision = Denied(-1, f"extension {owner.number} has no {choice.value} routing class")
        else:
            try:
                decision = route(kind.number, routing_class(found))
            except PolicyError as exc:
                await self.finish(500, "Server Internal Error", "bad_config", str(exc))
                return
        if isinstance(decision, Denied):
            await self.finish(
                403,
                "Forbidden",
                "class_denied",
                f"{choice.value} class of {owner.number}: {decision.reason}"
                f" [rule {decision.rule_index}]",
            )
            return
        trunks = await self._lookup(self.b2bua.lookups.trunks(tenant))
        trunk_pb = next((t for t in trunks if t.id == decision.trunk and t.enabled), None)
        if trunk_pb is None:
            detail = f"trunk {decision.trunk} of rule {decision.rule_index} is missing or disabled"
            await self.finish(503, "Service Unavailable", "trunk_unavailable", detail)
            return
        trunk = Trunk.from_proto(trunk_pb)
        if kind.e164 and enum_suffix:
            uri = await self.b2bua.enum(enum_suffix).lookup(kind.e164)
            if uri is not None:
                try:
                    targets = await self.b2bua.trunks.resolver.resolve_uri(uri)
                except ResolutionError as exc:
                    log.info("ENUM result %s unusable (%s): trying the trunk", uri, exc)
                else:
                    hop = (targets[0].host, targets[0].port)
                    await self._call_out("enum", uri, hop, kind.number, None)
                    return
        try:
            hop = await self.b2bua.trunks.next_hop(trunk)
        except TrunkUnreachableError as exc:
            await self.finish(503, "Service Unavailable", "trunk_unavailable", str(exc))
            return
        host = trunk.registrar.split(":", 1)[1]
        await self._call_out(
            f"trunk:{trunk.name}", f"sip:{kind.number}@{host}", hop, kind.number, trunk
        )

    async def _call_out(
        self,
        name: str,
        uri: str,
        next_hop: tuple[str, int],
        number: str,
        trunk: Trunk | None,
        *,
        extra: list[tuple[str, str]] | None = None,
        anchor: bool = True,
    ) -> None:
        """One branch out of this router: to a trunk (with its credentials), an ENUM URI,
        or another replica (a pickup there; ``anchor`` False: that replica anchors)."""
        self.outbound = True
        self.record.callee_extension = ""
        self.record.callee_account = name
        self._close_branches()
        await self._release_media("re-route")
        codecs = list(trunk.codecs) if trunk is not None else []
        anchor = anchor and (
            bool(codecs) or (self.caller is not None and not self.caller.direct_media)
        )
        self.record.direct_media = not anchor
        if anchor and not self._transferring:
            try:
                legs = [
                    leg_spec(CALLER_LEG, self.caller),
                    media_pb2.LegSpec(name=DEVICE_LEG, codecs=codecs),
                ]
                session = await self.b2bua.media.allocate(self.call_id, self.record.tenant, legs)
                self.sessions[name] = session
                self.b2bua.media_session_started(self, session.session_id)
                if self.offer:
                    self.sessions[name] = await self.b2bua.media.update(
                        session.session_id, CALLER_LEG, self.offer, is_offer=True
                    )
            except MediaError as exc:
                await self.finish(503, "Service Unavailable", "media_unavailable", str(exc))
        display = self.record.caller_display_name.replace('"', "")
        host = uri.split("@", 1)[-1]
        from_user = (
            trunk.username if trunk is not None and trunk.username else self.record.caller_extension
        )
        branch = BranchLeg(
            self.wire,
            name=name,
            call_id=f"{uuid.uuid4().hex}@centralino",
            uri=uri,
            next_hop=next_hop,
            from_header=f'"{display}" <sip:{from_user}@{host}>',
            to_header=f"<{uri}>",
            extra=[
                ("P-Asserted-Identity", f'"{display}" <sip:{from_user}@{host}>'),
                *(extra or []),
            ],
            credentials=(trunk.username, trunk.password) if trunk and trunk.username else None,
        )
        self.branches[name] = branch
        self.b2bua.register_branch(self, branch)
        anchored = self.sessions.get(name)
        body = leg_sdp(anchored, DEVICE_LEG) if anchored is not None else self.offer
        if self._transferring:
            body = b""
        log.info("calling %s out via %s (%s)", number, name, uri)
        self.fork = Fork([name], self._now(), 0)
        actions = self.fork.start()
        branch.send_invite(body, lambda resp: self._on_branch_response(branch, resp))
        self._arm_timer()
        await self.apply(actions)

    async def _identify_caller(self, username: str) -> None:
        """The calling account and its extension (EXT-05), admitted against its limit."""
        tenant = self.record.tenant
        caller = await self._lookup(self.b2bua.lookups.account(username))
        if caller is None or caller.tenant != tenant:
            await self.finish(403, "Forbidden", "forbidden", f"unknown account {username}")
        assert caller is not None
        if not caller.enabled or not caller.extension_enabled:
            await self.finish(403, "Forbidden", "forbidden", f"account {username} is disabled")
        caller_ext = await self._lookup(
            self.b2bua.lookups.extension(tenant, caller.extension_number)
        )
        if caller_ext is None:
            await self.finish(403, "Forbidden", "forbidden", "caller has no extension")
        assert caller_ext is not None
        self.caller = caller
        self.caller_ext = caller_ext
        self.record.caller_account = username
        self.record.caller_extension = caller_ext.number
        self.record.caller_display_name = caller_ext.display_name or caller.display_name
        if self.a.invite.get(PICKUP_HEADER) is not None:
            return  # a pickup sent on by another replica, which counts the picker there
        limit = caller_ext.call_limit
        added, active = await self.b2bua.counter.try_add(
            tenant,
            caller_ext.number,
            self.call_id,
            lambda n: admit_outgoing(n, limit).verdict is Verdict.ADMIT,
        )
        if not added:
            await self.finish(
                403,
                "Call Limit Reached",
                "call_limit",
                f"concurrent call limit {limit} of {caller_ext.number} reached ({active} active)",
            )
        self.counted.add((tenant, caller_ext.number))

    async def _lookup(self, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except LookupFailedError as exc:
            await self.finish(503, "Service Unavailable", "config_unavailable", str(exc))

    async def ring(self, number: str, *, first: bool = False) -> None:
        """Present the call to every enabled, registered account of ``number`` (EXT-04)."""
        tenant = self.record.tenant
        ext = await self._lookup(self.b2bua.lookups.extension(tenant, number))
        if ext is None:
            if first:
                await self.finish(404, "Not Found", "not_found", f"no extension {number}")
            # an overflow target that no longer exists: as if nobody could be reached
            await self.fail(Cause.UNAVAILABLE, f"overflow target extension {number} not found")
            return
        try:
            self.policy = extension_policy(ext)
        except PolicyError as exc:
            detail = f"extension {number}: {exc}"
            await self.finish(500, "Server Internal Error", "bad_config", detail)
            return
        self.record.callee_extension = number
        self.record.callee_account = ""
        if not ext.enabled:
            await self.fail(Cause.UNAVAILABLE, f"extension {number} is disabled")
            return
        policy = self.policy
        added, active = await self.b2bua.counter.try_add(
            tenant,
            number,
            self.call_id,
            lambda n: (
                admit_incoming(n, policy.call_limit, policy.busy_level).verdict is Verdict.ADMIT
            ),
        )
        if not added:
            verdict = admit_incoming(active, policy.call_limit, policy.busy_level)
            await self.fail(Cause.BUSY, f"extension {number}: {verdict.reason}")
            return
        self.counted.add((tenant, number))
        accounts = await self._lookup(self.b2bua.lookups.extension_accounts(tenant, number))
        own = self.caller.username if self.caller is not None else None
        ringable = [acc for acc in accounts if acc.enabled and acc.username != own]
        locations = await asyncio.gather(
            *(self.b2bua.lookups.location(acc.username) for acc in ringable)
        )
        registered = [
            (acc, loc) for acc, loc in zip(ringable, locations, strict=True) if loc is not None
        ]
        await self._anchor([acc for acc, _ in registered])
        timeout = policy.overflow_for(self.origin).timeout_seconds
        self.ringing_since = time.time()
        self.fork = Fork([acc.username for acc, _ in registered], self._now(), timeout)
        actions = self.fork.start()
        for acc, loc in registered:
            self._send_branch(acc, loc.registrar_sip)
        self._arm_timer()
        await self.apply(actions)

    async def _anchor(self, callees: list[config_pb2.Account]) -> None:
        """One media session per branch, unless direct media applies (ACC-14, ACC-22).
        A transfer target is sent no offer: media is set up once it answers."""
        await self._release_media("re-fork")
        if self._transferring:
            return
        self.record.direct_media = bool(callees) and not needs_anchor(self.caller, callees)
        if not callees or self.record.direct_media:
            return
        media = self.b2bua.media
        try:
            for acc in callees:
                legs = [leg_spec(CALLER_LEG, self.caller), leg_spec(DEVICE_LEG, acc)]
                session = await media.allocate(self.call_id, self.record.tenant, legs)
                self.sessions[acc.username] = session
                self.b2bua.media_session_started(self, session.session_id)
                if self.offer:
                    self.sessions[acc.username] = await media.update(
                        session.session_id, CALLER_LEG, self.offer, is_offer=True
                    )
        except MediaError as exc:
            await self.finish(503, "Service Unavailable", "media_unavailable", str(exc))

    @property
    def session(self) -> media_pb2.MediaSession | None:
        """The media session of the connected call, if anchored."""
        if self.winner is None:
            return None
        return self.sessions.get(self.winner.name)

    def _send_branch(self, account: config_pb2.Account, registrar_sip: str) -> None:
        username = account.username
        host, port = self.b2bua.registrar_for(registrar_sip)
        display = self.record.caller_display_name.replace('"', "")
        identity = f"sip:{self.record.caller_extension}@{self.record.tenant}"
        extra = [
            ("X-Centralino-Account", username),
            ("X-Centralino-Tenant", self.record.tenant),
            ("P-Asserted-Identity", f'"{display}" <{identity}>'),
        ]
        branch = BranchLeg(
            self.wire,
            name=username,
            call_id=f"{uuid.uuid4().hex}@centralino",
            uri=f"sip:{username}@{host}:{port}",
            next_hop=(host, port),
            from_header=f'"{display}" <{identity}>',
            to_header=f"<sip:{self.record.callee_extension}@{self.record.tenant}>",
            extra=extra,
        )
        self.branches[username] = branch
        self.b2bua.register_branch(self, branch)
        session = self.sessions.get(username)
        body = leg_sdp(session, DEVICE_LEG) if session is not None else self.offer
        if self._transferring:
            body = b""  # delayed offer: the target's 2xx offers, the caller answers
        branch.send_invite(body, lambda resp: self._on_branch_response(branch, resp))

    # -- fork actions ---------------------------------------------------------------

    async def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Ringing):
                await self._relay_ringing(self.branches[action.branch], action.status)
            elif isinstance(action, CancelBranches):
                for name in action.branches:
                    self.branches[name].cancel(action.reason)
            elif isinstance(action, Connect):
                await self._connect(self.branches[action.branch])
            elif isinstance(action, Failed):
                self._disarm_timer()
                if self.outbound:
                    # the far network's answer is the caller's: no overflow out there
                    status = action.statuses[0] if action.statuses else 480
                    reason = REASON_PHRASES.get(status, "Call Failed")
                    detail = f"{self.record.callee_account} answered {status}"
                    await self.finish(status, reason, action.cause.value, detail)
                await self.fail(action.cause, f"branches answered {list(action.statuses)}")
            elif isinstance(action, HangUpLate):
                late = self.branches[action.branch]
                if late.dialog is not None:
                    self._send_in_dialog(late.dialog, "BYE", late)

    async def _relay_ringing(self, branch: BranchLeg, status: int) -> None:
        response = branch.last_provisional
        body = response.body if response is not None else b""
        session = self.sessions.get(branch.name)
        if body and session is not None:
            try:
                session = await self.b2bua.media.update(
                    session.session_id, DEVICE_LEG, body, is_offer=False
                )
                self.sessions[branch.name] = session
                body = leg_sdp(session, CALLER_LEG)
            except MediaError as exc:
                log.warning("early media not anchored: %s", exc)
                body = b""
        reason = "Ringing" if status == 180 else "Session Progress"
        self.a.respond(status, reason, body)
        self.record.callee_account = branch.name
        await self.b2bua.recorder.publish(self.record, "ringing", time.time())

    async def _connect(self, branch: BranchLeg) -> None:
        self._disarm_timer()
        if self._transferring:
            answer_2xx = branch.answer
            offer = answer_2xx.body if answer_2xx is not None else b""
            await self._reconnect(branch, offer, branch.ack_with)
            return
        self.winner = branch
        answer = branch.answer
        body = answer.body if answer is not None else b""
        session = self.sessions.get(branch.name)
        await self._release_media("completed elsewhere", keep=branch.name)
        if session is not None:
            try:
                session = await self.b2bua.media.update(
                    session.session_id, DEVICE_LEG, body, is_offer=False
                )
                self.sessions[branch.name] = session
                body = leg_sdp(session, CALLER_LEG)
            except MediaError as exc:
                log.warning("cannot anchor the answer: %s", exc)
                if branch.dialog is not None:
                    self._send_in_dialog(branch.dialog, "BYE", branch)
                await self.finish(503, "Service Unavailable", "media_unavailable", str(exc))
        self.record.callee_account = branch.name
        self.record.answered = time.time()
        self.a.respond(200, "OK", body, on_no_ack=lambda: self.post(self._no_ack))
        await self.b2bua.recorder.publish(self.record, "answered", time.time())

    async def fail(self, cause: Cause, detail: str) -> None:
        """The current target failed: run its overflow for this origin and cause (OVF-07)."""
        policy = self.policy
        assert policy is not None
        if self.cancelled:
            return
        self._drop_counter(self.record.tenant, policy.number)
        decision = decide(policy, self.origin, cause, self.visited)
        log.info(
            "call to %s failed: %s (%s) -> %s",
            policy.number,
            cause.value,
            detail,
            type(decision).__name__,
        )
        if isinstance(decision, HangUp):
            if decision.detail:
                # a configured target we cannot serve is never dropped silently
                log.warning("overflow of %s: %s", policy.number, decision.detail)
            await self.finish(decision.status, decision.reason, cause.value, decision.detail)
        elif isinstance(decision, RingExtension):
            self.visited = decision.visited
            self._close_branches()
            await self.ring(decision.number)
        elif isinstance(decision, DialNumber):
            self.visited = self.visited | {policy.number}
            await self._dial(decision, cause)

    async def _dial(self, decision: DialNumber, cause: Cause) -> None:
        """A number dialled on the forwarding extension's behalf: an extension rings,
        anything else goes out under that extension's class, without spending its
        per-call unlock (the extension did not place the call)."""
        tenant = self.record.tenant
        number = decision.number
        ext = await self._lookup(self.b2bua.lookups.extension(tenant, number))
        if ext is not None and number not in self.visited:
            self._close_branches()
            await self.ring(number)
            return
        status, reason = {
            Cause.BUSY: (486, "Busy Here"),
            Cause.UNAVAILABLE: (480, "Temporarily Unavailable"),
            Cause.NO_ANSWER: (408, "No Answer"),
        }[cause]
        assert self.policy is not None
        owner = await self._lookup(self.b2bua.lookups.extension(tenant, self.policy.number))
        if ext is None and owner is not None and _has_class(owner):
            self._close_branches()
            await self._route_number(number, owner, spend_lock=False)
            return
        detail = (
            f"overflow loop through {number}"
            if ext is not None
            else f"no outbound route for {decision.kind.value} {number}: "
            f"extension {self.policy.number} has no routing class"
        )
        log.warning("overflow: %s", detail)
        await self.finish(status, reason, cause.value, detail)

    # -- SIP from the caller ----------------------------------------------------------------

    async def from_caller(self, req: SipMessage, inbound: Inbound) -> None:
        """A request in the caller's dialog (retransmissions never get here: the
        transaction layer answers them)."""
        method = req.method
        if method == "ACK":
            if req.cseq[0] == self.a.invite.cseq[0]:
                self.a.acked()
                if self._ack_joined is not None and req.body:
                    self._ack_joined(req.body)
                    self._ack_joined = None
                if self._bye_on_ack and not self.ended:
                    self._send_in_dialog(self.a.dialog, "BYE", None)
                    await self.end("service", 200)
                    return
            await self._answer_in_ack(req, CALLER_LEG)
            return
        if method == "CANCEL":
            self.a.answer(req, inbound, 200, "OK")
            if self.a.final:
                return
            self.cancelled = True
            self.a.respond(487, "Request Terminated")
            if self.fork is not None:
                await self.apply(self.fork.caller_cancelled())
            await self.end("cancelled", 487)
            return
        if method == "INVITE" and req.to_tag is None:
            return  # the initial INVITE again, on a new branch: one call is enough
        try:
            self.a.dialog.received(req)
        except SipParseError as exc:
            self.a.answer(req, inbound, exc.status, str(exc))
            return
        if method == "BYE":
            self.a.answer(req, inbound, 200, "OK")
            if self.winner is not None and self.winner.dialog is not None:
                self._send_in_dialog(self.winner.dialog, "BYE", self.winner)
            self._close_branches()  # a transfer target still ringing
            await self.end("normal", 200)
            return
        if method == "REFER":
            answer = self._answerer(req, inbound)
            if self.winner is None or self.winner.dialog is None or self.ended:
                answer(481, "Call/Transaction Does Not Exist", b"")
                return
            await self._on_refer(req, None, answer)
            return
        other = self.winner.dialog if self.winner is not None else None
        if other is None or self.ended:
            self.a.answer(req, inbound, 481, "Call/Transaction Does Not Exist")
            return
        assert self.winner is not None
        await self._relay(req, inbound, "a", other, self.winner)

    # -- SIP from a device ------------------------------------------------------------------

    def _on_branch_response(self, branch: BranchLeg, resp: SipMessage) -> None:
        if resp.cseq[1] != "INVITE":
            return  # the 200 to our CANCEL: the 487 that follows is what matters
        self.post(lambda: self._branch_response(branch, resp))

    async def _branch_response(self, branch: BranchLeg, resp: SipMessage) -> None:
        status = resp.status
        fork = self.fork
        if status < 200:
            if status > 100 and resp.to_tag:
                branch.last_provisional = resp
            if fork is not None and fork.branches.get(branch.name) is not None:
                await self.apply(fork.provisional(branch.name, status))
            return
        if status < 300:
            branch.established(resp, ack=not self._transferring or branch.dialog is not None)
            if fork is None or branch.name not in fork.branches or self.ended:
                if branch.dialog is not None and not branch.bye_sent:
                    self._send_in_dialog(branch.dialog, "BYE", branch)
                return
            await self.apply(fork.final(branch.name, status))
            return
        # the client transaction ACKs a non-2xx itself (RFC 3261 §17.1.1.3)
        if status in (401, 407) and not self.ended and branch.retry_with_credentials(resp):
            return
        if fork is not None and branch.name in fork.branches and not self.ended:
            await self.apply(fork.final(branch.name, status))

    async def from_branch(self, branch: BranchLeg, req: SipMessage, inbound: Inbound) -> None:
        method = req.method
        if method == "ACK":
            if branch is self.winner:
                if isinstance(branch, PickupLeg):
                    branch.caller.acked()
                await self._answer_in_ack(req, DEVICE_LEG)
            return
        answer = self._answerer(req, inbound)
        if branch.dialog is not None:
            try:
                branch.dialog.received(req)
            except SipParseError as exc:
                answer(exc.status, str(exc), b"")
                return
        if method == "BYE":
            answer(200, "OK", b"")
            if branch is self.winner:
                self._send_in_dialog(self.a.dialog, "BYE", None)
                await self.end("normal", 200)
            return
        if branch is not self.winner or branch.dialog is None or self.ended:
            answer(481, "Call/Transaction Does Not Exist", b"")
            return
        if method == "REFER":
            await self._on_refer(req, branch, answer)
            return
        await self._relay(req, inbound, branch.name, self.a.dialog, None)

    def stray_response(self, branch: BranchLeg, resp: SipMessage) -> None:
        """A 2xx repeated after the INVITE transaction ended: our ACK got lost."""
        if 200 <= resp.status < 300 and resp.cseq[1] == "INVITE":
            branch.resend_ack()

    # -- in-dialog relaying ---------------------------------------------------------

    def _answerer(self, req: SipMessage, inbound: Inbound) -> Callable[[int, str, bytes], None]:
        """Answer an in-dialog request on the flow it came on."""

        def answer(status: int, reason: str, body: bytes) -> None:
            extra: list[tuple[str, str]] = [("Content-Type", "application/sdp")] if body else []
            if req.method == "INVITE" and status == 200:
                extra.append(("Contact", self.wire.contact))
            self.wire.reply(response_to(req, status, reason, extra=extra, body=body), inbound)

        return answer

    async def _relay(
        self,
        req: SipMessage,
        inbound: Inbound,
        side: str,
        other: Dialog,
        other_branch: BranchLeg | None,
    ) -> None:
        """An in-dialog request from one leg. An anchored call answers a re-INVITE (hold,
        resume, codec change) from its media session: each leg negotiates with the anchor
        and the other device need not know. Anything else goes to the other leg and its
        final answer comes back."""
        answer = self._answerer(req, inbound)
        session = self.session
        if req.method == "INVITE" and session is not None:
            await self._answer_reinvite(req, side, session, answer)
            return
        if req.method == "INVITE" and self._reinvite is not None:
            answer(491, "Request Pending", b"")
            return
        extra = [(k, v) for k, v in req.headers if k == "Reason"]
        content_type = req.get("Content-Type") or "application/sdp"
        future = self._send_in_dialog(
            other, req.method, other_branch, req.body, extra, content_type
        )
        if req.method == "INVITE":
            self._reinvite = future

        async def relay_answer(resp: SipMessage) -> None:
            if req.method == "INVITE":
                self._reinvite = None
            answer(resp.status, resp.reason, resp.body)

        # the answer is relayed as a later step: waiting for it must not hold up a BYE
        future.add_done_callback(lambda f: self.post(lambda: relay_answer(f.result())))

    async def _answer_reinvite(
        self,
        req: SipMessage,
        side: str,
        session: media_pb2.MediaSession,
        answer: Callable[[int, str, bytes], None],
    ) -> None:
        leg = CALLER_LEG if side == "a" else DEVICE_LEG
        if not req.body:
            # an offerless re-INVITE: offer the leg's current SDP, the answer is in the ACK
            answer(200, "OK", leg_sdp(session, leg))
            return
        try:
            updated = await self.b2bua.media.update(
                session.session_id, leg, req.body, is_offer=True
            )
        except MediaError as exc:
            log.warning("re-INVITE refused by the media service: %s", exc)
            answer(488, "Not Acceptable Here", b"")
            return
        assert self.winner is not None
        self.sessions[self.winner.name] = updated
        answer(200, "OK", leg_sdp(updated, leg))

    def _send_in_dialog(
        self,
        dialog: Dialog,
        method: str,
        branch: BranchLeg | None,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
        content_type: str = "application/sdp",
        *,
        ack_later: bool = False,
    ) -> asyncio.Future[SipMessage]:
        """Send a request in ``dialog``; the future gets its final response. A 2xx to a
        re-INVITE is ACKed here at once: the B2BUA holds each leg's offer/answer itself
        (``ack_later``: an offerless re-INVITE, whose ACK carries our answer)."""
        if branch is None and isinstance(self.a, AdoptedCaller) and dialog is self.a.dialog:
            branch = self.a.branch
        if branch is not None:
            if method == "BYE":
                if branch.bye_sent:
                    done: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
                    done.set_result(SipMessage(status=200, reason="OK"))
                    return done
                branch.bye_sent = True
            extra = list(extra or []) + [
                h for h in branch.extra_for_in_dialog() if h not in (extra or [])
            ]
        req = dialog.request(method, body, extra, content_type=content_type)
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()

        def on_response(resp: SipMessage) -> None:
            if resp.status < 200:
                return
            if method == "INVITE" and resp.status < 300 and not ack_later:
                ack = dialog.request(
                    "ACK",
                    cseq=req.cseq[0],
                    extra=[h for h in (extra or []) if h[0].startswith("X-Centralino-")],
                )
                self.wire.send_stateless(ack, dialog.next_hop)
            if not future.done():
                future.set_result(resp)

        self.wire.send_request(req, dialog.next_hop, on_response)
        return future

    async def _answer_in_ack(self, ack: SipMessage, leg: str) -> None:
        """A delayed-offer exchange ends with the device's answer in the ACK."""
        session = self.session
        if not ack.body or session is None:
            return
        try:
            assert self.winner is not None
            self.sessions[self.winner.name] = await self.b2bua.media.update(
                session.session_id, leg, ack.body, is_offer=False
            )
        except MediaError as exc:
            log.warning("answer in ACK not applied: %s", exc)

    # -- timers ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.wire.loop.time()

    def _arm_timer(self) -> None:
        self._disarm_timer()
        deadline = self.fork.get_timer() if self.fork is not None else None
        if deadline is None:
            return
        self._timer = self.wire.loop.call_at(deadline, lambda: self.post(self._on_timer))

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _on_timer(self) -> None:
        if self.fork is None or self.fork.state is not ForkState.RINGING or self.ended:
            return
        await self.apply(self.fork.handle_timer(self._now()))

    async def _no_ack(self) -> None:
        log.warning("caller never ACKed the 2xx; ending the call")
        if self.winner is not None and self.winner.dialog is not None:
            self._send_in_dialog(self.winner.dialog, "BYE", self.winner)
        self._send_in_dialog(self.a.dialog, "BYE", None)
        await self.end("no_ack", 408)

    async def media_inactive(self) -> None:
        """The media service saw no RTP for too long: hang up both sides. While ringing no
        media is expected, so only a connected call is ended."""
        if self.ended or self.winner is None:
            return
        if self.winner is not None and self.winner.dialog is not None:
            self._send_in_dialog(self.winner.dialog, "BYE", self.winner)
        if self.a.final and 200 <= self.a.final < 300:
            self._send_in_dialog(
                self.a.dialog,
                "BYE",
                None,
                extra=[("Reason", 'SIP;cause=408;text="Media inactivity"')],
            )
        else:
            self.a.respond(408, "Request Timeout")
        await self.end("media_timeout", 408)

    # -- the end -------------------------------------------------------------------------

    async def finish(
        self,
        status: int,
        reason: str,
        cause: str,
        detail: str = "",
        extra: list[tuple[str, str]] | None = None,
    ) -> NoReturn:
        """Give the caller its final answer and end the call; stops the current step."""
        if detail:
            self.record.detail = detail
            log.info("call ends with %d %s: %s", status, reason, detail)
        if 200 <= self.a.final < 300 and not self.ended:
            # answered before (a transfer that failed): the caller hears of it by BYE
            text = reason.replace('"', "")
            bye_reason = [("Reason", f'SIP;cause={status};text="{text}"')]
            self._send_in_dialog(self.a.dialog, "BYE", None, extra=bye_reason)
        self.a.respond(status, reason, extra=extra)
        await self.end(cause, status)
        raise CallFinished

    async def _abort(self) -> None:
        """Tear down whatever exists after an unexpected failure: both sides hear of it."""
        self.a.respond(500, "Server Internal Error")
        for branch in self.branches.values():
            if branch.dialog is not None and not branch.bye_sent:
                self._send_in_dialog(branch.dialog, "BYE", branch)
            elif branch.dialog is None:
                branch.cancel('SIP;cause=500;text="Server Internal Error"')
        if self.a.final and 200 <= self.a.final < 300 and not self.ended:
            self._send_in_dialog(self.a.dialog, "BYE", None)
        await self.end("router_error", 500)

    def _drop_counter(self, tenant: str, number: str) -> None:
        if (tenant, number) in self.counted:
            self.counted.discard((tenant, number))
            self.b2bua.spawn(self.b2bua.counter.remove(tenant, number, self.call_id))

    def _close_branches(self) -> None:
        for branch in self.branches.values():
            if branch.dialog is None and not branch.cancelled and branch.tx is not None:
                branch.cancel('SIP;cause=480;text="Overflow"')

    async def _release_media(self, reason: str, keep: str | None = None) -> None:
        for name in [n for n in self.sessions if n != keep]:
            session = self.sessions.pop(name)
            self.b2bua.media_session_ended(session.session_id)
            await self.b2bua.media.release(session.session_id, reason)

    async def end(self, cause: str, status: int) -> None:
        if self.ended:
            return
        self.ended = True
        self._disarm_timer()
        for tenant, number in list(self.counted):
            self._drop_counter(tenant, number)
        await self._release_media(cause)
        self.record.ended = time.time()
        self.record.cause = cause
        self.record.sip_status = status
        answered = self.record.answered is not None
        metrics.call_ended(cause, answered, self.record.ended - self.record.started)
        self.wire.loop.call_later(LINGER_SECONDS, self._forget)
        try:
            # the row first: whoever reacts to "ended" can read it
            try:
                await self.b2bua.recorder.write_cdr(self.record)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                log.error("CDR write failed: %s", exc)
            if self.record.tenant:  # a call refused for having none has nowhere to go
                await self.b2bua.recorder.publish(self.record, "ended", self.record.ended)
        finally:
            self._end_span(cause, status, answered)

    def _end_span(self, cause: str, status: int | None = None, answered: bool = False) -> None:
        if not self._span.is_recording():
            return  # ended already (a shutdown racing the call's own end)
        self._span.set_attributes(
            {
                "centralino.call.origin": self.origin.value,
                "centralino.call.cause": cause,
                "centralino.call.outcome": "answered" if answered else "failed",
            }
        )
        if status is not None:
            self._span.set_attribute("sip.status", status)
        if cause == "router_error":
            self._span.set_status(trace.StatusCode.ERROR, "call step failed")
        self._span.end()

    def _forget(self) -> None:
        self.a.close()
        self.b2bua.forget(self)

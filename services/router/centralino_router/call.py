"""One call through the B2BUA: from the caller's INVITE to the CDR row.

The decisions come from the sans-IO cores (``admission``, ``fork``, ``overflow``); this
module is the adapter that feeds them SIP, time and lookups and carries out their actions.
Everything a call does runs one step at a time under its own lock, in arrival order, so
a CANCEL that crosses a 200 OK is handled after it, never interleaved with it.

What the SIP edge tells us in headers: ``X-Centralino-Account`` and ``X-Centralino-Tenant``
(who calls), ``X-Centralino-Origin`` (``internal`` by default; ``external`` and
``transfer`` come from trunks and transfers, which select the overflow of that origin).

Statuses the caller may see besides the callee's own answers:

* 403 ``Call Limit Reached`` — the caller's extension is at its concurrent-call limit (LIM-01);
* 403 ``Forbidden`` — unknown, disabled or cross-tenant calling account (should not pass the edge);
* 404 ``Not Found`` — the dialled number is not an extension of the tenant;
* 486 / 480 / 408 — busy, unavailable, no answer with a hang-up overflow (OVF-04/05/03);
* 400 ``Bad Request`` — unknown origin;
* 500 — a bug while handling the call (logged with the Call-ID; both sides are hung up);
* 503 ``Service Unavailable`` — config or media service unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry import trace

from centralino.logs import call_context
from centralino.v1 import config_pb2, media_pb2
from centralino_router import metrics, tracing
from centralino_router.admission import Verdict, admit_incoming, admit_outgoing
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
from centralino_router.legs import BranchLeg, CallerLeg, Dialog
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
from centralino_router.sipmsg import SipMessage, SipParseError, response_to, uri_of, uri_user
from centralino_router.wire import Inbound

if TYPE_CHECKING:
    from centralino_router.b2bua import B2bua

log = logging.getLogger(__name__)

#: how long a finished call stays matchable for late messages (64*T1)
LINGER_SECONDS = 32.0


class CallFinished(Exception):
    """Internal: the caller has its final answer; stop the set-up."""


class Call:
    def __init__(self, b2bua: B2bua, invite: SipMessage, inbound: Inbound) -> None:
        self.b2bua = b2bua
        self.wire = b2bua.wire
        self.call_id = invite.call_id
        self.a = CallerLeg(self.wire, invite, inbound)
        self.branches: dict[str, BranchLeg] = {}
        self.fork: Fork | None = None
        self.winner: BranchLeg | None = None
        self.policy: ExtensionPolicy | None = None
        self.caller: config_pb2.Account | None = None
        self.visited: frozenset[str] = frozenset()
        self.counted: set[tuple[str, str]] = set()
        #: media sessions by branch while ringing; only the winner's is kept
        self.sessions: dict[str, media_pb2.MediaSession] = {}
        self.offer = invite.body
        self.origin = Origin.INTERNAL
        self.record = CallRecord(
            call_id=self.call_id,
            tenant=invite.get("X-Centralino-Tenant") or "",
            origin=self.origin.value,
            dialled=uri_user(invite.uri),
            started=time.time(),
        )
        self.ended = False
        self.cancelled = False
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
        invite = self.a.invite
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
        await self.ring(self.record.dialled, first=True)

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
        self.record.caller_account = username
        self.record.caller_extension = caller_ext.number
        self.record.caller_display_name = caller_ext.display_name or caller.display_name
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
        self.fork = Fork([acc.username for acc, _ in registered], self._now(), timeout)
        actions = self.fork.start()
        for acc, loc in registered:
            self._send_branch(acc, loc.registrar_sip)
        self._arm_timer()
        await self.apply(actions)

    async def _anchor(self, callees: list[config_pb2.Account]) -> None:
        """One media session per branch, unless direct media applies (ACC-14, ACC-22)."""
        await self._release_media("re-fork")
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
        """A number dialled on the caller's behalf: an extension rings, anything else needs
        an outbound route, which exists only once trunks land."""
        number = decision.number
        ext = await self._lookup(self.b2bua.lookups.extension(self.record.tenant, number))
        if ext is not None and number not in self.visited:
            self._close_branches()
            await self.ring(number)
            return
        status, reason = {
            Cause.BUSY: (486, "Busy Here"),
            Cause.UNAVAILABLE: (480, "Temporarily Unavailable"),
            Cause.NO_ANSWER: (408, "No Answer"),
        }[cause]
        detail = (
            f"overflow loop through {number}"
            if ext is not None
            else f"no outbound route for {decision.kind.value} {number}: trunks are not available"
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
            await self.end("normal", 200)
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
            branch.established(resp)
            if fork is None or branch.name not in fork.branches or self.ended:
                if branch.dialog is not None and not branch.bye_sent:
                    self._send_in_dialog(branch.dialog, "BYE", branch)
                return
            await self.apply(fork.final(branch.name, status))
            return
        # the client transaction ACKs a non-2xx itself (RFC 3261 §17.1.1.3)
        if fork is not None and branch.name in fork.branches and not self.ended:
            await self.apply(fork.final(branch.name, status))

    async def from_branch(self, branch: BranchLeg, req: SipMessage, inbound: Inbound) -> None:
        method = req.method
        if method == "ACK":
            if branch is self.winner:
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
    ) -> asyncio.Future[SipMessage]:
        """Send a request in ``dialog``; the future gets its final response. A 2xx to a
        re-INVITE is ACKed here at once: the B2BUA holds each leg's offer/answer itself."""
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
            if method == "INVITE" and resp.status < 300:
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

    async def finish(self, status: int, reason: str, cause: str, detail: str = "") -> None:
        """Give the caller its final answer and end the call; stops the current step."""
        if detail:
            self.record.detail = detail
            log.info("call ends with %d %s: %s", status, reason, detail)
        self.a.respond(status, reason)
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

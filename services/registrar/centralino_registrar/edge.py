"""The asyncio edge: phones on one side, the router on the other.

Two transport managers keep the directions apart: ``phones`` listens on the public SIP
ports (UDP/TCP/TLS/WS/WSS), ``internal`` on the router-facing listener. Every message is
parsed by the SIP core and handled in its own task; the decisions come from the sans-IO
cores (``auth``, ``binding``, ``defence``, ``proxy``), this module only moves bytes,
awaits the KV store, config-api and the bus, and reads the clock.

From a phone:
  REGISTER                    -> authenticate, store the location, answer
  OPTIONS to the PBX itself   -> 200 OK
  ACK, CANCEL, in-dialog      -> forward to the router (no challenge: they cannot answer it)
  any other request           -> authenticate (407), ACL, registration check, forward to
                                 the router with X-Centralino-Account/Tenant/Flow
  response                    -> to the router, by the Via below ours
From the router:
  request with our Route      -> in-dialog: to the phone over the flow in the Route
  other request               -> to the account's location (480 if none), over its flow
  response                    -> to the phone, over the flow named in our Via
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from centralino.logs import call_context
from centralino.sip import (
    Request,
    Response,
    SipError,
    SipParseError,
    SipUri,
    apply_received_rport,
    generate_tag,
    make_response,
    parse_message,
    tracecontext,
    try_build_400,
)
from centralino.sip.transport import (
    Flow,
    FlowClosedError,
    TransportError,
    TransportKind,
    TransportManager,
)
from centralino.v1 import config_pb2, registrar_pb2
from centralino_registrar.accounts import AccountDirectory, ConfigUnavailableError
from centralino_registrar.auth import (
    TRANSPORT_TO_PROTO,
    Authenticated,
    Authenticator,
    AuthRequest,
    Reject,
)
from centralino_registrar.binding import (
    EVENT_UNREGISTERED,
    Change,
    ExpiryLimits,
    apply_plan,
    plan_register,
)
from centralino_registrar.defence import SourceBlocked, SourceGuard, Verdict
from centralino_registrar.events import Announcer
from centralino_registrar.extract import credentials, register_facts
from centralino_registrar.flowtoken import FlowTokenError, decode_flow, encode_flow
from centralino_registrar.locations import LocationStore, LocationStoreError
from centralino_registrar.metrics import AUTH_FAILURES, DROPPED
from centralino_registrar.proxy import (
    ACCOUNT_HEADER,
    FLOW_HEADER,
    FLOW_PARAM,
    NAT_PARAM,
    SIDE_PARAM,
    TENANT_HEADER,
    Hop,
    TooManyHopsError,
    decrement_max_forwards,
    derived_branch,
    pop_our_routes,
    push_via,
    record_route,
    response_destination,
    strip_identity,
    uri_destination,
)
from centralino_registrar.retransmissions import Key, RetransmissionFilter, State

log = logging.getLogger(__name__)
tracer = trace.get_tracer("centralino.registrar")


def _first_line(message: Request | Response) -> str:
    """What names a message's span: its method, or its status code."""
    return message.method if isinstance(message, Request) else str(message.status)


#: the UDP transaction being handled by the current task, so that whatever answers or
#: forwards it records that for retransmissions of the same request
_transaction: contextvars.ContextVar[Key | None] = contextvars.ContextVar(
    "registrar_transaction", default=None
)

#: the To-tag of every response we answer ourselves starts with this, so the ACK of a
#: locally answered INVITE (a 407 or 403) is recognised and absorbed, not forwarded
LOCAL_TAG_PREFIX = "cxl"
ALLOW = (
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER, MESSAGE, INFO, "
    "UPDATE, PRACK, PUBLISH"
)
# never challenged: they cannot be resent with credentials, and they belong to an INVITE
# that was authorised
_UNCHALLENGED = {"ACK", "CANCEL"}


@dataclass(frozen=True, slots=True)
class EdgeAddresses:
    """Where we are: the advertised public host with one port per transport, and the
    internal listener the router talks to."""

    public_host: str
    public_ports: dict[TransportKind, int]
    internal: Hop
    router: tuple[str, int]

    def public_hop(self, kind: TransportKind) -> Hop:
        return Hop(kind, self.public_host, self.public_ports[kind])

    @property
    def internal_sip(self) -> str:
        return f"{self.internal.host}:{self.internal.port}"


class Edge:
    def __init__(
        self,
        *,
        addresses: EdgeAddresses,
        instance: str,
        directory: AccountDirectory,
        store: LocationStore,
        authenticator: Authenticator,
        guard: SourceGuard,
        announcer: Announcer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.addresses = addresses
        self.instance = instance
        self.directory = directory
        self.store = store
        self.auth = authenticator
        self.guard = guard
        self.announcer = announcer
        self.clock = clock
        self.phones: TransportManager | None = None
        self.internal: TransportManager | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.retransmissions = RetransmissionFilter()
        self._our_hosts = {addresses.public_host.lower(), addresses.internal.host.lower()}
        #: NATed UDP phones registered here, kept alive: username -> flow id
        self.nat_bindings: dict[str, str] = {}
        #: connection-oriented flows that carried a REGISTER: flow id -> usernames
        self.flow_accounts: dict[str, set[str]] = {}

    # -- plumbing ------------------------------------------------------------------

    def attach(self, phones: TransportManager, internal: TransportManager) -> None:
        self.phones = phones
        self.internal = internal

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("message handler failed", exc_info=task.exception())

    async def drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def on_phone_message(self, data: bytes, flow: Flow) -> None:
        verdict = self.guard.admit(flow.remote[0], self.clock())
        if verdict is not Verdict.ALLOW:
            DROPPED.add(1, {"why": verdict.value})
            return
        self._spawn(self._from_phone(data, flow))

    def on_internal_message(self, data: bytes, flow: Flow) -> None:
        self._spawn(self._from_router(data, flow))

    async def _send_phone(self, data: bytes, flow: Flow, dest: tuple[str, int]) -> None:
        assert self.phones is not None
        if flow.kind.reliable or dest == flow.remote:
            await self.phones.send(data, flow.flow_id)
        else:
            await self.phones.send_to(TransportKind.UDP, dest, data)

    async def _send_internal(self, data: bytes, kind: str, dest: tuple[str, int]) -> None:
        assert self.internal is not None
        await self.internal.send_to(kind.lower(), dest, data)

    # -- from phones ---------------------------------------------------------------

    async def _from_phone(self, data: bytes, flow: Flow) -> None:
        # headers are parsed lazily, as each step needs them (a full validate() would
        # parse every URI of the message, for nothing): a malformed one surfaces as a
        # SipError wherever it is first read, and is answered 400 naming it
        try:
            message = parse_message(data)
            call_id = message.call_id
        except SipError as exc:
            await self._refuse_unparsable(data, flow, exc)
            return
        # Phones may not inject trace context: a trace starts at our edge.
        tracecontext.strip(message.headers)
        name = f"SIP {_first_line(message)} from phone"
        with (
            call_context(call_id),
            tracer.start_as_current_span(
                name,
                kind=trace.SpanKind.SERVER,
                attributes={"sip.call_id": call_id, "sip.transport": flow.kind.value},
            ),
        ):
            try:
                if isinstance(message, Response):
                    await self._phone_response(message)
                elif flow.kind is TransportKind.UDP and message.method != "ACK":
                    await self._udp_request(message, flow)
                else:
                    await self._phone_request(message, flow)
            except SipError as exc:
                await self._refuse_unparsable(data, flow, exc)
            except (TransportError, OSError) as exc:
                log.info("cannot deliver: %s", exc)

    async def _refuse_unparsable(self, data: bytes, flow: Flow, error: SipError) -> None:
        answer = try_build_400(data, error)
        if answer is not None:
            await self._send_phone(answer, flow, flow.remote)

    async def _udp_request(self, request: Request, flow: Flow) -> None:
        via = request.top_via
        branch = via.branch if via.is_rfc3261_branch else None
        # RFC 2543 clients have no unique branch: Call-ID, CSeq and From tag name the
        # transaction instead (RFC 3261 §17.2.3)
        tx = branch or f"{request.call_id}|{request.cseq}|{request.from_.tag}"
        key = (tx, via.sent_by, request.method)
        entry = self.retransmissions.check(key, self.clock())
        if entry is not None:
            if entry.destination is None:
                return  # the original is still being handled
            if entry.state is State.ANSWERED:
                await self._send_phone(entry.data, flow, entry.destination)
            elif entry.state is State.FORWARDED:
                await self._send_internal(entry.data, "udp", entry.destination)
            return
        token = _transaction.set(key)
        try:
            await self._phone_request(request, flow)
        finally:
            _transaction.reset(token)
            self.retransmissions.forget_unanswered(key)

    async def _reply(
        self,
        request: Request,
        flow: Flow,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        nat: bool = False,
        contact: str | None = None,
    ) -> None:
        if request.method == "ACK":
            return
        response = make_response(request, status, reason, to_tag=LOCAL_TAG_PREFIX + generate_tag())
        for name, value in headers:
            response.headers.add(name, value)
        if contact is not None:
            response.headers.add("Contact", contact)
        dest = response_destination(request.top_via, flow.remote, nat)
        data = response.serialize()
        key = _transaction.get()
        if key is not None:
            self.retransmissions.answered(key, data, dest)
        await self._send_phone(data, flow, dest)

    async def _phone_request(self, request: Request, flow: Flow) -> None:
        if request.cseq.method != request.method:
            raise SipParseError("CSeq method does not match the request method")
        request.set_top_via(apply_received_rport(request.top_via, *flow.remote))
        strip_identity(request)
        if request.method == "REGISTER":
            await self._register(request, flow)
            return
        ours = pop_our_routes(request, self._our_hosts)
        to_tag = request.to.tag
        if request.method == "ACK" and not ours and to_tag and to_tag.startswith(LOCAL_TAG_PREFIX):
            return  # the ACK of a response we sent ourselves ends here
        if ours or request.method in _UNCHALLENGED:
            # a dialog we record-routed (its route set brought it back here), or an ACK
            # or CANCEL: the INVITE they belong to was authorised. A To-tag alone proves
            # nothing: such a request is authenticated like a new one
            await self._forward_to_router(request, flow, None, in_dialog=bool(ours))
            return
        if request.method == "OPTIONS" and request.uri.user is None:
            await self._reply(
                request, flow, 200, "OK", (("Allow", ALLOW), ("Accept", "application/sdp"))
            )
            return
        await self._initial_from_phone(request, flow)

    async def _lookup(
        self, username: str, request: Request, flow: Flow
    ) -> tuple[config_pb2.Account | None, config_pb2.SipSettings] | None:
        try:
            account = await self.directory.account(username)
            sip = await self.directory.sip_settings(account.tenant if account else "")
        except ConfigUnavailableError as exc:
            log.warning("config-api unavailable: %s", exc)
            await self._reply(request, flow, 503, "Service Unavailable", (("Retry-After", "5"),))
            return None
        return account, sip

    async def _authenticate(
        self, request: Request, flow: Flow, username: str
    ) -> tuple[Authenticated, config_pb2.SipSettings] | None:
        found = await self._lookup(username, request, flow)
        if found is None:
            return None
        account, sip = found
        header = "Authorization" if request.method == "REGISTER" else "Proxy-Authorization"
        realm = sip.realm or self.auth.default_realm
        result = self.auth.check(
            AuthRequest(
                request.method,
                username,
                flow.remote[0],
                flow.kind,
                credentials(request, realm, header),
                request.headers.get("User-Agent", "") or "",
            ),
            account,
            sip,
            self.clock(),
        )
        for signal in result.failures:
            AUTH_FAILURES.add(1, {"signal": signal.value})
        if result.blocked is not None:
            await self._announce_block(result.blocked)
        if isinstance(result.outcome, Reject):
            nat = bool(account and account.nat)
            await self._reply(
                request,
                flow,
                result.outcome.status,
                result.outcome.reason,
                result.outcome.headers,
                nat=nat,
            )
            return None
        return result.outcome, sip

    async def _announce_block(self, block: SourceBlocked) -> None:
        try:
            await self.announcer.blocked(block, self.clock())
        except Exception as exc:  # the block holds even if the event cannot be published
            log.warning("cannot publish block of %s: %s", block.source_ip, exc)

    async def _register(self, request: Request, flow: Flow) -> None:
        username = request.to.uri.user
        if not username:
            await self._reply(request, flow, 400, "Bad Request (no user in To)")
            return
        authed = await self._authenticate(request, flow, username)
        if authed is None:
            return
        account = authed[0].account
        plan = plan_register(register_facts(request), ExpiryLimits.from_settings(authed[1]))
        if isinstance(plan, Reject):
            await self._reply(
                request, flow, plan.status, plan.reason, plan.headers, nat=account.nat
            )
            return
        now_ms = int(self.clock() * 1000)
        proposed = registrar_pb2.Location(
            tenant=account.tenant,
            username=username,
            source_ip=flow.remote[0],
            source_port=flow.remote[1],
            transport=TRANSPORT_TO_PROTO[flow.kind],
            flow_id=flow.flow_id,
            registrar_instance=self.instance,
            registrar_sip=self.addresses.internal_sip,
            user_agent=request.headers.get("User-Agent", "") or "",
            call_id=request.call_id,
            cseq=request.cseq.seq,
            nat=account.nat,
        )
        try:
            change = await self.store.change(
                username, lambda current: apply_plan(plan, current, proposed, now_ms)
            )
        except LocationStoreError as exc:
            log.error("cannot store location: %s", exc)
            await self._reply(
                request,
                flow,
                500,
                "Server Internal Error (location store)",
                (("Retry-After", "1"),),
                nat=account.nat,
            )
            return
        if isinstance(change, Reject):
            await self._reply(
                request, flow, change.status, change.reason, change.headers, nat=account.nat
            )
            return
        contact = None
        binding = change.binding
        if binding is not None:
            remaining = max(0, (binding.expires_unix_ms - now_ms) // 1000)
            contact = f"<{binding.contact}>;expires={remaining}"
        await self._reply(request, flow, 200, "OK", (), nat=account.nat, contact=contact)
        if change.event is not None:
            if change.store is not None and account.nat and flow.kind is TransportKind.UDP:
                self.nat_bindings[username] = flow.flow_id
            elif change.store is None:
                self.nat_bindings.pop(username, None)
            if change.store is not None and flow.kind.reliable:
                self.flow_accounts.setdefault(flow.flow_id, set()).add(username)
            location = change.store or change.removed or proposed
            await self.announcer.location(change.event, location, request.call_id)

    async def _initial_from_phone(self, request: Request, flow: Flow) -> None:
        username = request.from_.uri.user
        if not username:
            await self._reply(request, flow, 403, "Forbidden (no user in From)")
            return
        authed = await self._authenticate(request, flow, username)
        if authed is None:
            return
        account = authed[0].account
        if account.registration_check and request.method == "INVITE":
            location = await self.store.get(username)
            if location is None or (location.source_ip, location.source_port) != flow.remote:
                await self._reply(
                    request,
                    flow,
                    403,
                    "Forbidden (not from the registered address)",
                    nat=account.nat,
                )
                return
        realm = authed[0].realm
        # our credentials end here (RFC 3261 §22.3); others' travel on
        kept = [
            v for v in request.headers.get_all("Proxy-Authorization") if f'realm="{realm}"' not in v
        ]
        request.headers.remove("Proxy-Authorization")
        for value in kept:
            request.headers.add("Proxy-Authorization", value)
        request.headers.add(ACCOUNT_HEADER, account.username)
        request.headers.add(TENANT_HEADER, account.tenant)
        request.headers.add(FLOW_HEADER, encode_flow(flow.flow_id))
        if request.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            phone_side = self.addresses.public_hop(flow.kind).uri(
                "e",
                **{FLOW_PARAM: encode_flow(flow.flow_id)},
                **({NAT_PARAM: "1"} if account.nat else {}),
            )
            record_route(request, self.addresses.internal.uri("i"), phone_side)
        await self._forward_to_router(request, flow, account, in_dialog=False)

    def _router_destination(self, request: Request, in_dialog: bool) -> tuple[str, int]:
        """Phones may only reach the router. A new request goes to the configured router;
        an in-dialog one to the router replica its route set or remote target names
        (the dialog lives there), as long as that is on the router's host."""
        if not in_dialog:
            return self.addresses.router
        routes = request.routes
        target = routes[0].uri if routes else request.uri
        host, port = uri_destination(target)
        if host == self.addresses.router[0]:
            return host, port
        return self.addresses.router

    async def _forward_to_router(
        self, request: Request, flow: Flow, account: config_pb2.Account | None, *, in_dialog: bool
    ) -> None:
        try:
            decrement_max_forwards(request)
        except TooManyHopsError:
            await self._reply(request, flow, 483, "Too Many Hops")
            return
        nat = account.nat if account is not None else False
        params = {FLOW_PARAM: encode_flow(flow.flow_id)}
        if nat:
            params[NAT_PARAM] = "1"
        branch = derived_branch(request.top_via, request.call_id, "i")
        push_via(request, self.addresses.internal, branch, "i", **params)
        tracecontext.inject(request.headers)
        dest = self._router_destination(request, in_dialog)
        data = request.serialize()
        key = _transaction.get()
        if key is not None:
            self.retransmissions.forwarded(key, data, dest)
        await self._send_internal(data, "udp", dest)

    async def _phone_response(self, response: Response) -> None:
        vias = response.vias
        if len(vias) < 2 or vias[0].params.get(SIDE_PARAM) != "e":
            return  # not a response to something we forwarded (or a keep-alive answer)
        response.headers.pop_first_value("Via")
        strip_identity(response)
        upstream = vias[1]
        dest = response_destination(upstream, None, False)
        await self._send_internal(response.serialize(), upstream.transport, dest)

    # -- from the router -------------------------------------------------------------

    async def _from_router(self, data: bytes, flow: Flow) -> None:
        try:
            message = parse_message(data)
            # The router's trace continues here; the headers never reach a phone.
            token = otel_context.attach(tracecontext.extract(message.headers))
            tracecontext.strip(message.headers)
            try:
                with (
                    call_context(message.call_id),
                    tracer.start_as_current_span(
                        f"SIP {_first_line(message)} to phone",
                        attributes={"sip.call_id": message.call_id},
                    ),
                ):
                    if isinstance(message, Response):
                        await self._router_response(message)
                    else:
                        await self._router_request(message, flow)
            finally:
                otel_context.detach(token)
        except SipError as exc:
            log.warning("bad message from the router side %s: %s", flow.remote, exc)
        except (TransportError, OSError) as exc:
            log.info("cannot deliver to phone: %s", exc)

    async def _reply_router(self, request: Request, flow: Flow, status: int, reason: str) -> None:
        if request.method == "ACK":
            return
        response = make_response(request, status, reason, to_tag=generate_tag())
        dest = response_destination(request.top_via, flow.remote, False)
        await self._send_internal(response.serialize(), flow.kind.value, dest)

    async def _router_response(self, response: Response) -> None:
        vias = response.vias
        if len(vias) < 2 or vias[0].params.get(SIDE_PARAM) != "i":
            return
        ours = vias[0]
        response.headers.pop_first_value("Via")
        strip_identity(response)
        token = ours.params.get(FLOW_PARAM)
        if not token:
            return
        try:
            flow_id = decode_flow(token)
        except FlowTokenError:
            return
        assert self.phones is not None
        flow = self.phones.flow(flow_id)
        if flow is None:
            log.info("phone flow %s is gone; dropping %d", flow_id, response.status)
            return
        nat = ours.params.get(NAT_PARAM) == "1"
        dest = response_destination(vias[1], flow.remote, nat)
        await self._send_phone(response.serialize(), flow, dest)

    async def _router_request(self, request: Request, flow: Flow) -> None:
        request.set_top_via(apply_received_rport(request.top_via, *flow.remote))
        try:
            decrement_max_forwards(request)
        except TooManyHopsError:
            await self._reply_router(request, flow, 483, "Too Many Hops")
            return
        popped = pop_our_routes(request, self._our_hosts)
        phone_side = next((u for u in popped if u.params.get(SIDE_PARAM) == "e"), None)
        if phone_side is not None:
            await self._in_dialog_to_phone(request, flow, phone_side)
            return
        username = request.headers.get(ACCOUNT_HEADER) or request.uri.user
        strip_identity(request)
        if not username:
            await self._reply_router(request, flow, 404, "Not Found (no account)")
            return
        location = await self.store.get(username)
        now_ms = int(self.clock() * 1000)
        if location is None or location.expires_unix_ms <= now_ms:
            await self._reply_router(request, flow, 480, "Temporarily Unavailable")
            return
        kind = _KIND_OF[location.transport]
        if (
            kind.reliable or location.nat
        ) and location.registrar_sip != self.addresses.internal_sip:
            # the phone's connection (or the NAT binding of its UDP socket, which only
            # lets our own port in) lives on another replica: only it can send there
            host, _, port = location.registrar_sip.rpartition(":")
            await self._send_internal(request.serialize(), "udp", (host, int(port)))
            return
        await self._to_location(request, flow, location, kind)

    async def _to_location(
        self, request: Request, flow: Flow, location: registrar_pb2.Location, kind: TransportKind
    ) -> None:
        assert self.phones is not None
        request.uri = location.contact
        phone_flow = self.phones.flow(location.flow_id) if kind.reliable else None
        if kind.reliable and phone_flow is None:
            await self._reply_router(request, flow, 480, "Temporarily Unavailable (flow closed)")
            return
        if request.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            params = {FLOW_PARAM: encode_flow(location.flow_id)}
            if location.nat:
                params[NAT_PARAM] = "1"
            record_route(
                request,
                self.addresses.public_hop(kind).uri("e", **params),
                self.addresses.internal.uri("i"),
            )
        branch = derived_branch(request.top_via, request.call_id, "e")
        push_via(request, self.addresses.public_hop(kind), branch, "e")
        data = request.serialize()
        try:
            if phone_flow is not None:
                await self.phones.send(data, phone_flow.flow_id)
            else:
                dest = (
                    (location.source_ip, location.source_port)
                    if location.nat
                    else _contact_destination(location)
                )
                await self.phones.send_to(TransportKind.UDP, dest, data)
        except FlowClosedError:
            await self._reply_router(request, flow, 480, "Temporarily Unavailable (flow closed)")

    async def _in_dialog_to_phone(self, request: Request, flow: Flow, route: SipUri) -> None:
        assert self.phones is not None
        token = route.params.get(FLOW_PARAM) or ""
        try:
            flow_id = decode_flow(token)
        except FlowTokenError:
            await self._reply_router(request, flow, 400, "Bad Request (flow token)")
            return
        phone_flow = self.phones.flow(flow_id)
        if phone_flow is None:
            await self._reply_router(request, flow, 430, "Flow Failed")
            return
        strip_identity(request)
        branch = derived_branch(request.top_via, request.call_id, "e")
        push_via(request, self.addresses.public_hop(phone_flow.kind), branch, "e")
        data = request.serialize()
        if phone_flow.kind.reliable:
            await self.phones.send(data, flow_id)
            return
        if route.params.get(NAT_PARAM) == "1":
            dest = phone_flow.remote
        else:
            routes = request.routes
            dest = uri_destination(routes[0].uri if routes else request.uri)
        await self.phones.send_to(TransportKind.UDP, dest, data)

    # -- flows ---------------------------------------------------------------------

    def on_flow_closed(self, flow: Flow, reason: str) -> None:
        """A phone's TCP/TLS/WS connection closed: its binding, if it is still the one
        made over that flow, can no longer be reached (RFC 5626 §5.2) and is removed."""
        for username in self.flow_accounts.pop(flow.flow_id, ()):
            self._spawn(self._flow_gone(username, flow.flow_id, reason))

    async def _flow_gone(self, username: str, flow_id: str, reason: str) -> None:
        def decide(current: registrar_pb2.Location | None) -> Change:
            if current is None or current.flow_id != flow_id:
                return Change(False, None, None, current)
            return Change(True, None, EVENT_UNREGISTERED, None, removed=current)

        try:
            change = await self.store.change(username, decide)
        except LocationStoreError as exc:
            log.warning("cannot remove the binding of closed flow %s: %s", flow_id, exc)
            return
        if isinstance(change, Change) and change.event is not None and change.removed:
            log.info("flow of %s closed (%s): binding removed", username, reason)
            await self.announcer.location(change.event, change.removed)

    # -- NAT keep-alive ----------------------------------------------------------------

    async def keepalive_nat_bindings(self) -> None:
        """Send a CRLF keep-alive to every NATed UDP phone registered here (ACC-12):
        outgoing traffic keeps the NAT's binding open so the phone stays reachable."""
        assert self.phones is not None
        for flow_id in list(self.nat_bindings.values()):
            try:
                await self.phones.send(b"\r\n\r\n", flow_id)
            except (FlowClosedError, OSError) as exc:
                log.debug("keep-alive to %s failed: %s", flow_id, exc)


_KIND_OF = {
    config_pb2.UDP: TransportKind.UDP,
    config_pb2.TCP: TransportKind.TCP,
    config_pb2.TLS: TransportKind.TLS,
    config_pb2.WS: TransportKind.WS,
    config_pb2.WSS: TransportKind.WSS,
}


def _contact_destination(location: registrar_pb2.Location) -> tuple[str, int]:
    """Without NAT, the Contact's address (REG-01); a Contact naming a host we would have
    to resolve falls back to the source address."""
    try:
        uri = SipUri.parse(location.contact)
    except SipError:
        return location.source_ip, location.source_port
    host, port = uri_destination(uri)
    if not host or not (host[0].isdigit() or ":" in host):
        return location.source_ip, location.source_port
    return host, port

"""One LDAP client connection, sans-IO: bytes in, bytes out.

Rules (RFC 4511, RFC 4513, RFC 2696):

* Operations are answered in order, synchronously: the directory is in memory, so an
  Abandon never finds anything to abandon and gets no answer (§4.11).
* A PDU that cannot be framed or decoded ends the connection: a Notice of Disconnection
  (messageID 0, protocolError) is queued and :attr:`closed` is set. Unbind closes quietly.
* Bind: anonymous (empty name and password), or simple with a configured user. A name
  with an empty password is an "unauthenticated bind" and is refused (RFC 4513 §5.1.2).
  A failed bind leaves the connection anonymous (§4.2.1). SASL is not offered.
* Search: base/one/sub scope; the size limit is the smaller of the client's and the
  server's; the time limit likewise, measured on the injected clock. With the paged
  results control the full answer is computed once and handed out page by page.
* Everything that writes (add, modify, delete, modDN) is refused with unwillingToPerform:
  the directory is read-only. Compare is not offered either.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from pyasn1.error import PyAsn1Error

from centralino_directory.ldap import dn as dnmod
from centralino_directory.ldap import messages as msgs
from centralino_directory.ldap.errors import (
    LdapOperationError,
    LdapProtocolError,
    ResultCode,
)
from centralino_directory.ldap.filters import evaluate, from_asn1
from centralino_directory.ldap.schema import LdapEntry, canonical_attribute
from centralino_directory.ldap.tree import (
    PAGED_RESULTS_OID,
    WHO_AM_I_OID,
    PhonebookTree,
    Scope,
)

log = logging.getLogger(__name__)
tracer = trace.get_tracer("centralino.directory.ldap")


@dataclass(frozen=True, slots=True)
class BindUser:
    """A local account phones bind with; ``tenant`` None sees every tenant."""

    dn: str
    password: str = field(repr=False)
    tenant: str | None = None

    def __post_init__(self) -> None:
        if not dnmod.parse(self.dn):
            raise ValueError("a bind user needs a non-empty DN")
        if not self.password:
            raise ValueError(f"bind user {self.dn!r} needs a password")


class Credentials:
    """Who may bind, and whether anonymous access is allowed."""

    def __init__(self, users: Iterable[BindUser] = (), *, allow_anonymous: bool = True) -> None:
        self.allow_anonymous = allow_anonymous
        self._users: dict[dnmod.Dn, tuple[BindUser, bytes]] = {}
        for user in users:
            digest = hashlib.sha256(user.password.encode("utf-8")).digest()
            self._users[dnmod.parse(user.dn)] = (user, digest)

    def check(self, name: str, password: bytes) -> BindUser:
        entry = self._users.get(dnmod.parse(name))
        # Hash both sides so the comparison takes the same time whatever is sent.
        offered = hashlib.sha256(password).digest()
        if entry is None or not hmac.compare_digest(entry[1], offered):
            raise LdapOperationError(ResultCode.INVALID_CREDENTIALS, "invalid credentials")
        return entry[0]


@dataclass(frozen=True, slots=True)
class Limits:
    #: most entries one search returns, whatever the client asks
    max_size: int = 1000
    #: most seconds one search may take, whatever the client asks
    max_time: float = 10.0
    #: the largest PDU accepted; a phonebook request is a few hundred bytes
    max_pdu: int = 256 * 1024
    #: paged result sets one connection may keep open
    max_paged: int = 8


@dataclass
class _Paged:
    remaining: list[LdapEntry]
    attributes: list[str] | None
    types_only: bool
    truncated: bool


_ALL_USER = "*"
_ALL_OPERATIONAL = "+"
_NO_ATTRIBUTES = "1.1"
# How many entries to examine between two looks at the clock.
_CLOCK_STRIDE = 64


class LdapServerConnection:
    def __init__(
        self,
        tree: PhonebookTree,
        credentials: Credentials,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tree = tree
        self.credentials = credentials
        self.limits = limits or Limits()
        self.clock = clock
        self.closed = False
        self.user: BindUser | None = None
        self._buffer = bytearray()
        self._paged: dict[bytes, _Paged] = {}
        self._cookies = itertools.count(1)

    @property
    def bound_dn(self) -> str:
        return self.user.dn if self.user else ""

    def receive_data(self, data: bytes) -> bytes:
        """Feed bytes from the client; returns the bytes to send back. After
        :attr:`closed` becomes true the caller sends the returned bytes and closes."""
        if self.closed:
            return b""
        self._buffer += data
        out: list[bytes] = []
        try:
            while not self.closed:
                size = msgs.pdu_length(self._buffer, self.limits.max_pdu)
                if size is None or len(self._buffer) < size:
                    break
                pdu = bytes(self._buffer[:size])
                del self._buffer[:size]
                try:
                    out.extend(self._handle(msgs.decode_message(pdu)))
                except PyAsn1Error as exc:  # a required component the decoder let through
                    raise LdapProtocolError(f"incomplete LDAPMessage: {exc}") from None
        except LdapProtocolError as exc:
            out.append(msgs.notice_of_disconnection(exc.problem))
            self.closed = True
        return b"".join(out)

    def _handle(self, message: Any) -> list[bytes]:
        message_id = int(message["messageID"])
        name = message["protocolOp"].getName()
        with tracer.start_as_current_span(
            f"ldap {name}", attributes={"ldap.message_id": message_id}
        ):
            return self._dispatch(message_id, name, message)

    def _dispatch(self, message_id: int, name: str, message: Any) -> list[bytes]:
        request = message["protocolOp"].getComponent()
        controls = message["controls"] if message["controls"].isValue else []
        if message_id == 0 and name != "unbindRequest":
            raise LdapProtocolError("messageID 0 is reserved for unsolicited notifications")
        match name:
            case "bindRequest":
                return [self._bind(message_id, request)]
            case "unbindRequest":
                self.closed = True
                return []
            case "searchRequest":
                try:
                    return self._search(message_id, request, controls)
                except LdapOperationError as exc:
                    return [msgs.search_done(message_id, exc.code, exc.message, exc.matched_dn)]
            case "abandonRequest":
                return []
            case "extendedReq":
                return [self._extended(message_id, request)]
            case _ if name in msgs.RESULT_RESPONSES:
                return [
                    msgs.result_response(
                        name, message_id, ResultCode.UNWILLING_TO_PERFORM, "read-only directory"
                    )
                ]
        raise LdapProtocolError(f"{name} is not a request a client may send")

    # --- bind -------------------------------------------------------------------------

    def _bind(self, message_id: int, request: Any) -> bytes:
        self.user = None
        self._paged.clear()

        def reply(code: ResultCode, diagnostic: str = "") -> bytes:
            return msgs.result_response("bindRequest", message_id, code, diagnostic)

        version = int(request["version"])
        if version not in (2, 3):
            return reply(ResultCode.PROTOCOL_ERROR, f"LDAP version {version} not supported")
        name = msgs.text(request["name"], "bind name")
        auth = request["authentication"]
        if auth.getName() != "simple":
            return reply(ResultCode.AUTH_METHOD_NOT_SUPPORTED, "only simple bind is offered")
        password = bytes(auth.getComponent().asOctets())
        if not password:
            if name:
                return reply(ResultCode.UNWILLING_TO_PERFORM, "unauthenticated bind refused")
            if not self.credentials.allow_anonymous:
                return reply(ResultCode.INAPPROPRIATE_AUTHENTICATION, "anonymous bind disabled")
            return reply(ResultCode.SUCCESS)
        try:
            self.user = self.credentials.check(name, password)
        except LdapOperationError as exc:
            log.info("ldap bind refused", extra={"bind_dn": name, "message_id": message_id})
            return reply(exc.code, exc.message)
        return reply(ResultCode.SUCCESS)

    # --- search -----------------------------------------------------------------------

    def _visible_tenants(self) -> frozenset[str] | None:
        if self.user is None or self.user.tenant is None:
            return None
        return frozenset({self.user.tenant})

    @staticmethod
    def _selection(requested: list[str], entry: LdapEntry) -> list[str]:
        if requested == [_NO_ATTRIBUTES]:
            return []
        # Every attribute of the root DSE is operational: "+" asks for them.
        everything = not requested or _ALL_USER in requested
        if not entry.dn and _ALL_OPERATIONAL in requested:
            everything = True
        if everything:
            return list(entry.attributes)
        wanted = {canonical_attribute(a) for a in requested}
        return [a for a in entry.attributes if a in wanted]

    def _search(self, message_id: int, request: Any, controls: Any) -> list[bytes]:
        base = msgs.text(request["baseObject"], "search base")
        try:
            scope = Scope(int(request["scope"]))
        except ValueError:
            raise LdapProtocolError(f"unknown search scope {int(request['scope'])}") from None
        size_limit = int(request["sizeLimit"])
        time_limit = int(request["timeLimit"])
        types_only = bool(request["typesOnly"])
        search_filter = from_asn1(request["filter"])
        requested = [msgs.text(a, "attribute") for a in request["attributes"]]

        paged: tuple[int, bytes] | None = None
        for control in controls:
            oid = msgs.text(control["controlType"], "control type")
            if oid == PAGED_RESULTS_OID and control["controlValue"].isValue:
                paged = msgs.decode_paged_value(bytes(control["controlValue"].asOctets()))
            elif bool(control["criticality"]):
                raise LdapOperationError(
                    ResultCode.UNAVAILABLE_CRITICAL_EXTENSION, f"control {oid} not supported"
                )

        root_dse = not base and scope is Scope.BASE
        if self.user is None and not self.credentials.allow_anonymous and not root_dse:
            raise LdapOperationError(
                ResultCode.INSUFFICIENT_ACCESS_RIGHTS, "bind first: anonymous access is disabled"
            )

        if paged is not None and paged[1]:
            return self._next_page(message_id, paged[0], paged[1])

        max_size = self.limits.max_size
        limit = min(size_limit, max_size) if size_limit else max_size
        seconds = min(time_limit, self.limits.max_time) if time_limit else self.limits.max_time
        deadline = self.clock() + seconds
        matches: list[LdapEntry] = []
        code = ResultCode.SUCCESS
        for n, entry in enumerate(self.tree.search(base, scope, self._visible_tenants()), 1):
            if n % _CLOCK_STRIDE == 0 and self.clock() > deadline:
                code = ResultCode.TIME_LIMIT_EXCEEDED
                break
            if evaluate(search_filter, entry) is not True:
                continue
            if len(matches) == limit:
                code = ResultCode.SIZE_LIMIT_EXCEEDED
                break
            matches.append(entry)

        log.debug(
            "ldap search",
            extra={
                "message_id": message_id,
                "base": base,
                "scope": scope.name,
                "entries": len(matches),
                "result": code.name,
            },
        )
        if paged is None:
            out = [self._entry(message_id, e, requested, types_only) for e in matches]
            out.append(msgs.search_done(message_id, code))
            return out
        page_size = paged[0]
        if page_size == 0:  # RFC 2696: size 0 with no cookie just asks for the estimate
            return [msgs.search_done(message_id, code, controls=msgs.paged_control(0, b""))]
        state = _Paged(matches, requested, types_only, truncated=code is not ResultCode.SUCCESS)
        if len(self._paged) >= self.limits.max_paged:
            self._paged.pop(next(iter(self._paged)))
        cookie = str(next(self._cookies)).encode()
        self._paged[cookie] = state
        return self._page(message_id, cookie, page_size)

    def _next_page(self, message_id: int, size: int, cookie: bytes) -> list[bytes]:
        if cookie not in self._paged:
            raise LdapOperationError(
                ResultCode.UNWILLING_TO_PERFORM, "unknown paged results cookie"
            )
        if size == 0:  # the client abandons the paged search
            del self._paged[cookie]
            return [
                msgs.search_done(
                    message_id, ResultCode.SUCCESS, controls=msgs.paged_control(0, b"")
                )
            ]
        return self._page(message_id, cookie, size)

    def _page(self, message_id: int, cookie: bytes, size: int) -> list[bytes]:
        state = self._paged[cookie]
        page, state.remaining = state.remaining[:size], state.remaining[size:]
        out = [self._entry(message_id, e, state.attributes or [], state.types_only) for e in page]
        if state.remaining:
            control = msgs.paged_control(len(state.remaining), cookie)
            out.append(msgs.search_done(message_id, ResultCode.SUCCESS, controls=control))
            return out
        del self._paged[cookie]
        code = ResultCode.SIZE_LIMIT_EXCEEDED if state.truncated else ResultCode.SUCCESS
        out.append(msgs.search_done(message_id, code, controls=msgs.paged_control(0, b"")))
        return out

    def _entry(
        self, message_id: int, entry: LdapEntry, requested: list[str], types_only: bool
    ) -> bytes:
        return msgs.search_entry(message_id, entry, self._selection(requested, entry), types_only)

    # --- extended ---------------------------------------------------------------------

    def _extended(self, message_id: int, request: Any) -> bytes:
        oid = msgs.text(request["requestName"], "extended operation name")
        if oid == WHO_AM_I_OID:
            authz = f"dn:{self.user.dn}" if self.user else ""
            return msgs.extended_response(
                message_id, ResultCode.SUCCESS, value=authz.encode("utf-8")
            )
        return msgs.extended_response(
            message_id, ResultCode.PROTOCOL_ERROR, f"extended operation {oid} not supported", oid
        )

"""Message rewriting for the edge proxy between phones and the router (sans-IO).

The registrar forwards with RFC 3261 §16.11 branch derivation: the branch of the Via it
adds is a hash of the upstream top Via, so an INVITE, its CANCEL and the ACK of a non-2xx
answer (which all carry the upstream branch) get the same downstream branch, and the
next hop matches them to the INVITE's transaction without the registrar keeping any.
Responses are routed back by popping our Via; the Via carries the phone's flow so the
answer returns over the very connection (or NATed UDP address) the request came on.

It record-routes twice (RFC 5658): one entry facing the router (``cx=i``) and one facing
the phone (``cx=e``, carrying the phone's flow token), so in-dialog requests come back
through it and reach the phone over its flow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from centralino.sip import Address, Message, Request, SipUri, Via
from centralino.sip.transport.flow import Address as HostPort
from centralino.sip.transport.flow import TransportKind

IDENTITY_PREFIX = "x-centralino-"
ACCOUNT_HEADER = "X-Centralino-Account"
TENANT_HEADER = "X-Centralino-Tenant"
FLOW_HEADER = "X-Centralino-Flow"

BRANCH_PREFIX = "z9hG4bKcx"
KEEPALIVE_BRANCH_PREFIX = "z9hG4bKcxka"
SIDE_PARAM = "cx"  # on our Record-Route/Route entries and Vias: "e" (phones) or "i" (router)
FLOW_PARAM = "cxf"
NAT_PARAM = "cxn"


class TooManyHopsError(ValueError):
    """Max-Forwards reached zero: answer 483 (RFC 3261 §16.3 step 3)."""


def derived_branch(upstream: Via, call_id: str, side: str) -> str:
    digest = hashlib.sha256(
        f"{upstream.branch}|{upstream.sent_by}|{call_id}|{side}".encode()
    ).hexdigest()
    return BRANCH_PREFIX + digest[:24]


def strip_identity(message: Message) -> None:
    """Remove every X-Centralino-* header: only the registrar may assert identity."""
    names = {name for name, _ in message.headers if name.lower().startswith(IDENTITY_PREFIX)}
    for name in names:
        message.headers.remove(name)


def decrement_max_forwards(request: Request) -> None:
    value = request.max_forwards
    if value is None:
        request.headers.set("Max-Forwards", "70")
        return
    if value <= 0:
        raise TooManyHopsError("Max-Forwards reached 0")
    request.headers.set("Max-Forwards", str(value - 1))


@dataclass(frozen=True, slots=True)
class Hop:
    """One of our SIP addresses, as written in Via and Record-Route."""

    kind: TransportKind
    host: str
    port: int

    def uri(self, side: str, **params: str) -> SipUri:
        uri = SipUri("sip", None, self.host, self.port)
        if self.kind is not TransportKind.UDP:
            uri.params["transport"] = self.kind.value
        uri.params["lr"] = None
        uri.params[SIDE_PARAM] = side
        uri.params.update(params)
        return uri


def push_via(request: Request, hop: Hop, branch: str, side: str, **params: str) -> None:
    via = Via(
        hop.host,
        hop.port,
        hop.kind.via_token,
        {"branch": branch, "rport": None, SIDE_PARAM: side, **params},
    )
    request.headers.prepend("Via", str(via))


def record_route(request: Request, top: SipUri, below: SipUri) -> None:
    # prepend puts a value above the existing ones: push the lower one first
    request.headers.prepend("Record-Route", str(Address(below)))
    request.headers.prepend("Record-Route", str(Address(top)))


def is_ours(uri: SipUri, hosts: set[str]) -> bool:
    return SIDE_PARAM in uri.params and uri.host.strip("[]").lower() in hosts


def pop_our_routes(request: Request, hosts: set[str]) -> list[SipUri]:
    """Remove our entries from the top of Route; returns them, topmost first."""
    popped: list[SipUri] = []
    while True:
        routes = request.routes
        if not routes or not is_ours(routes[0].uri, hosts):
            return popped
        request.headers.pop_first_value("Route")
        popped.append(routes[0].uri)


def response_destination(via: Via, source: HostPort | None, nat: bool) -> HostPort:
    """Where a response to a request with this top Via goes (RFC 3261 §18.2.2, RFC 3581).

    With NAT on (ACC-12) the observed source always wins over what the Via claims.
    """
    if nat and source is not None:
        return source
    host = via.received or via.host.strip("[]")
    port = via.rport or via.port or 5060
    return host, port


def uri_destination(uri: SipUri) -> HostPort:
    return uri.host.strip("[]"), uri.port or uri.default_port

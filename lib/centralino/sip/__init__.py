"""Centralino's SIP core (RFC 3261): sans-IO, typed, no clock reads and no sockets.

Layers, bottom up (each module depends only on those above it in this list):

- ``errors``: blame-typed exceptions. ``SipParseError``/``SipHeaderError`` (peer's
  fault, with ``status_hint`` and a ``reason`` phrase), ``LocalProtocolError`` (ours).
- ``grammar``: RFC 3261 §25 tokens, quoted strings, comma and parameter splitting.
- ``uri``: ``SipUri`` (sip/sips/tel) with ``parse_uri`` and §19.1.4 equality.
- ``address``: ``Address`` (alias ``NameAddr``) for From/To/Contact/Route values.
- ``via``: ``Via``, ``parse_via``, ``apply_received_rport`` (RFC 3581).
- ``fields``: ``CSeq`` and the scalar headers (Max-Forwards, Expires, Content-Length).
- ``headers``: ``Headers``, the ordered, case-preserving header list; compact forms.
- ``message``: ``Request``, ``Response``, ``parse_message``; typed views parsed lazily
  (``msg.top_via``, ``msg.cseq``, ``msg.from_``...), ``validate()``, ``serialize()``.
- ``ids``: branch (``z9hG4bK``), tag and Call-ID generation with injectable randomness.
- ``responses``: ``make_response`` (§8.2.6) and ``try_build_400`` for unparsable requests.
- ``digest``: RFC 7616/8760 digest authentication, server (``DigestChallenger``) and
  client (``build_authorization``) sides, MD5 and SHA-256, stateless HMAC nonces.
- ``timers`` / ``events`` / ``transaction`` / ``transaction_layer``: the §17
  transaction state machines (timers A-K, T1/T2/T4 in ``TimerConfig``; aioquic shape:
  ``receive(msg, now)``, ``send(...)``, ``get_timer()``, ``handle_timer(now)``,
  ``next_event()``, ``messages_to_send()``), and ``TransactionLayer``, which matches
  messages to transactions (CANCEL and non-2xx ACK included), absorbs retransmissions,
  multiplexes timers and hands ACKs for 2xx to the TU. INVITE server transactions send
  100 Trying themselves only if the TU sent no provisional within 200 ms
  (``TimerConfig.trying_delay``; 0 sends it at once).
- ``dialog``: §12 dialogs (UAC/UAS, early dialogs per remote tag in ``DialogSet``, route
  sets with loose and strict routing, remote target refresh, in-dialog requests, ACK
  for 2xx).

Parsing is lazy: ``parse_message`` checks framing, the start line, header-line syntax,
control characters and Content-Length; structured headers are parsed on first access
and raise ``SipHeaderError`` then. Servers call ``msg.validate()`` before acting on a
request and answer a ``SipError`` with ``try_build_400(data, error)`` when it returns
bytes (it returns ``None`` for what cannot be addressed: drop it).

``transport`` (framing, sockets) and ``resolve`` (RFC 3263) live beside this core and
are not imported by it.
"""

from centralino.sip.address import Address, NameAddr, parse_address
from centralino.sip.dialog import Dialog, DialogId, DialogSet, DialogState
from centralino.sip.digest import (
    DigestChallenge,
    DigestChallenger,
    DigestCredentials,
    DigestStatus,
    DigestVerdict,
    build_authorization,
    ha1,
    parse_authorization,
    parse_challenge,
)
from centralino.sip.errors import (
    LocalProtocolError,
    SipError,
    SipHeaderError,
    SipParseError,
    SipUnsupportedSchemeError,
)
from centralino.sip.events import (
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
    TransactionTimeout,
)
from centralino.sip.fields import CSeq, parse_cseq
from centralino.sip.headers import COMPACT_FORMS, Headers, canonical_name
from centralino.sip.ids import generate_branch, generate_call_id, generate_tag
from centralino.sip.message import REASON_PHRASES, Message, Request, Response, parse_message
from centralino.sip.responses import make_response, try_build_400
from centralino.sip.timers import DEFAULT_TIMERS, TimerConfig
from centralino.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    TransactionState,
    build_cancel,
    build_non2xx_ack,
)
from centralino.sip.transaction_layer import TransactionLayer
from centralino.sip.uri import SipUri, parse_uri
from centralino.sip.via import BRANCH_MAGIC_COOKIE, Via, apply_received_rport, parse_via

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "COMPACT_FORMS",
    "DEFAULT_TIMERS",
    "REASON_PHRASES",
    "Address",
    "CSeq",
    "ClientTransaction",
    "Dialog",
    "DialogId",
    "DialogSet",
    "DialogState",
    "DigestChallenge",
    "DigestChallenger",
    "DigestCredentials",
    "DigestStatus",
    "DigestVerdict",
    "Headers",
    "LocalProtocolError",
    "Message",
    "NameAddr",
    "Outgoing",
    "Request",
    "RequestReceived",
    "Response",
    "ResponseReceived",
    "ServerTransaction",
    "SipError",
    "SipHeaderError",
    "SipParseError",
    "SipUnsupportedSchemeError",
    "SipUri",
    "TimerConfig",
    "TransactionEvent",
    "TransactionLayer",
    "TransactionState",
    "TransactionTerminated",
    "TransactionTimeout",
    "Via",
    "apply_received_rport",
    "build_authorization",
    "build_cancel",
    "build_non2xx_ack",
    "canonical_name",
    "generate_branch",
    "generate_call_id",
    "generate_tag",
    "ha1",
    "make_response",
    "parse_address",
    "parse_authorization",
    "parse_challenge",
    "parse_cseq",
    "parse_message",
    "parse_uri",
    "parse_via",
    "try_build_400",
]

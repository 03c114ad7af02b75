"""Events the transaction layer hands to its user (frozen, slotted, h11 style)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from centralino.sip.message import Message, Request, Response

if TYPE_CHECKING:
    from centralino.sip.transaction import ClientTransaction, ServerTransaction

__all__ = [
    "Outgoing",
    "RequestReceived",
    "ResponseReceived",
    "TransactionEvent",
    "TransactionTerminated",
    "TransactionTimeout",
]


@dataclass(frozen=True, slots=True, eq=False)
class RequestReceived:
    """A new request for the TU.

    ``transaction`` is the server transaction to answer on; it is ``None`` for an ACK
    to a 2xx, which travels end to end outside any transaction (§17.2.3). For a CANCEL,
    ``cancelled`` is the INVITE server transaction it matches (§9.2), if any: the TU
    answers the CANCEL (200, or 481 when ``cancelled`` is None) and the INVITE (487).
    """

    request: Request
    transaction: ServerTransaction | None
    cancelled: ServerTransaction | None = None
    source: Hashable | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ResponseReceived:
    """A response for the TU; ``transaction`` is ``None`` for a stray (e.g. a 2xx
    retransmission after the INVITE transaction ended, which the UAC must ACK again)."""

    response: Response
    transaction: ClientTransaction | None
    source: Hashable | None = None


@dataclass(frozen=True, slots=True, eq=False)
class TransactionTimeout:
    """Timer B, F or H fired: treat as a 408 (client) or a lost ACK (server)."""

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True, slots=True, eq=False)
class TransactionTerminated:
    transaction: ClientTransaction | ServerTransaction


TransactionEvent = RequestReceived | ResponseReceived | TransactionTimeout | TransactionTerminated


@dataclass(frozen=True, slots=True, eq=False)
class Outgoing:
    """A message to put on the wire, with the opaque destination the user gave us
    (for requests) or the source the request came from (for responses)."""

    message: Message
    destination: Hashable | None = None

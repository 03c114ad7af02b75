"""The transaction layer: matches messages to transactions and multiplexes their timers.

Matching follows RFC 3261 §17.1.3 for responses (top Via branch + CSeq method) and
§17.2.3 for requests: with an RFC 3261 branch (``z9hG4bK``...) the key is branch,
sent-by and method, where ACK maps to INVITE so the ACK of a non-2xx lands in the INVITE
transaction. Without the magic cookie (RFC 2543 peers) the key is Call-ID, CSeq number,
From tag, top Via sent-by and method. A CANCEL gets its own non-INVITE transaction and
is reported with the INVITE transaction it cancels (same key, method INVITE). An ACK that
matches no transaction (the ACK of a 2xx has a branch of its own) goes to the TU.

Responses are queued with the ``source`` their request came from, requests with the
``destination`` the user gave; the adapter turns those opaque tokens into flows.
Malformed messages raise ``SipHeaderError`` from ``receive`` before any state changes.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable

from centralino.sip.events import (
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
)
from centralino.sip.message import Message, Request, Response
from centralino.sip.timers import DEFAULT_TIMERS, TimerConfig
from centralino.sip.transaction import ClientTransaction, ServerTransaction
from centralino.sip.via import BRANCH_MAGIC_COOKIE

__all__ = ["TransactionLayer"]

_Key = tuple[str, ...]
_Txn = ClientTransaction | ServerTransaction


def server_key(request: Request, method: str | None = None) -> _Key:
    """The §17.2.3 matching key of a request (``method`` overrides its own method)."""
    via = request.top_via
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch and branch.startswith(BRANCH_MAGIC_COOKIE):
        return ("3261", branch, via.sent_by.lower(), method)
    cseq = request.cseq
    return (
        "2543",
        request.call_id,
        str(cseq.seq),
        request.from_.tag or "",
        via.sent_by.lower(),
        method,
    )


def client_key(message: Message) -> _Key:
    return (message.top_via.branch or "", message.cseq.method)


class TransactionLayer:
    """All transactions of one SIP element; feed it messages and time, drain its output."""

    def __init__(self, timers: TimerConfig = DEFAULT_TIMERS) -> None:
        self.timers = timers
        self._clients: dict[_Key, ClientTransaction] = {}
        self._servers: dict[_Key, ServerTransaction] = {}
        self._keys: dict[int, tuple[bool, _Key]] = {}
        self._routes: dict[int, Hashable | None] = {}
        self._events: deque[TransactionEvent] = deque()
        self._outgoing: list[Outgoing] = []
        self._heap: list[tuple[float, int, _Txn]] = []
        self._scheduled: dict[int, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    # -- input -------------------------------------------------------------------------

    def receive(
        self, message: Message, now: float, *, reliable: bool, source: Hashable | None = None
    ) -> None:
        if isinstance(message, Response):
            self._receive_response(message, now, source)
        elif isinstance(message, Request):
            self._receive_request(message, now, reliable, source)

    def _receive_response(self, response: Response, now: float, source: Hashable | None) -> None:
        txn = self._clients.get(client_key(response))
        if txn is None:
            self._events.append(ResponseReceived(response, None, source))
            return
        txn.receive(response, now)
        self._drain(txn)

    def _receive_request(
        self, request: Request, now: float, reliable: bool, source: Hashable | None
    ) -> None:
        key = server_key(request)
        txn = self._servers.get(key)
        if txn is not None:
            txn.receive(request, now)
            self._drain(txn)
            return
        if request.method == "ACK":
            self._events.append(RequestReceived(request, None, source=source))
            return
        txn = ServerTransaction(request, now, reliable=reliable, timers=self.timers)
        self._servers[key] = txn
        self._keys[id(txn)] = (False, key)
        self._routes[id(txn)] = source
        first = txn.next_event()
        assert isinstance(first, RequestReceived)
        cancelled = None
        if request.method == "CANCEL":
            cancelled = self._servers.get(server_key(request, "INVITE"))
        self._events.append(RequestReceived(request, txn, cancelled, source))
        self._drain(txn)

    # -- output from the TU ------------------------------------------------------------

    def send_request(
        self,
        request: Request,
        now: float,
        *,
        reliable: bool,
        destination: Hashable | None = None,
    ) -> ClientTransaction:
        """Start a client transaction; ACK for a 2xx goes through ``send_stateless``."""
        txn = ClientTransaction(request, now, reliable=reliable, timers=self.timers)
        key = client_key(request)
        self._clients[key] = txn
        self._keys[id(txn)] = (True, key)
        self._routes[id(txn)] = destination
        self._drain(txn)
        return txn

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        transaction.send(response, now)
        self._drain(transaction)

    def send_stateless(self, message: Message, destination: Hashable | None = None) -> None:
        """Queue a message outside any transaction (ACK for 2xx, forwarded 2xx)."""
        self._outgoing.append(Outgoing(message, destination))

    # -- time and output ---------------------------------------------------------------

    def get_timer(self) -> float | None:
        while self._heap:
            deadline, _, txn = self._heap[0]
            if self._scheduled.get(id(txn)) == deadline:
                return deadline
            heapq.heappop(self._heap)  # superseded entry
        return None

    def handle_timer(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            deadline, _, txn = heapq.heappop(self._heap)
            if self._scheduled.get(id(txn)) != deadline:
                continue
            del self._scheduled[id(txn)]
            txn.handle_timer(now)
            self._drain(txn)

    def next_event(self) -> TransactionEvent | None:
        return self._events.popleft() if self._events else None

    def messages_to_send(self) -> list[Outgoing]:
        out, self._outgoing = self._outgoing, []
        return out

    def _drain(self, txn: _Txn) -> None:
        route = self._routes.get(id(txn))
        for message in txn.messages_to_send():
            self._outgoing.append(Outgoing(message, route))
        while (event := txn.next_event()) is not None:
            self._events.append(event)
            if isinstance(event, TransactionTerminated):
                self._forget(txn)
        deadline = txn.get_timer()
        if txn.terminated or deadline is None:
            self._scheduled.pop(id(txn), None)
        elif self._scheduled.get(id(txn)) != deadline:
            self._scheduled[id(txn)] = deadline
            heapq.heappush(self._heap, (deadline, next(self._seq), txn))

    def _forget(self, txn: _Txn) -> None:
        is_client, key = self._keys.pop(id(txn))
        table: dict[_Key, ClientTransaction] | dict[_Key, ServerTransaction]
        table = self._clients if is_client else self._servers
        if table.get(key) is txn:
            del table[key]
        self._routes.pop(id(txn), None)
        self._scheduled.pop(id(txn), None)

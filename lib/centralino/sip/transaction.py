"""SIP transaction state machines (RFC 3261 §17, with the RFC 6026 Accepted state).

Rules, in prose; the tables below encode exactly these.

Client INVITE (§17.1.1). *Calling* sends the INVITE; on unreliable transports Timer A
retransmits it, doubling each time (T1, 2·T1, 4·T1... no cap), and Timer B (64·T1) gives
up. A provisional moves to *Proceeding* (no timers: the TU bounds the wait). A 2xx moves
to *Accepted* (RFC 6026) where further 2xx — retransmissions or other forks — still go
to the TU until Timer M (64·T1). A 300-699 is ACKed by the transaction itself and moves
to *Completed*, where retransmitted finals are ACKed again until Timer D (≥32 s, 0 on
reliable transports).

Client non-INVITE (§17.1.2). *Trying* sends the request; Timer E retransmits it,
doubling up to T2, Timer F (64·T1) gives up. A provisional moves to *Proceeding*,
where Timer E retransmits every T2. A final response moves to *Completed*, which
absorbs retransmitted responses until Timer K (T4, 0 on reliable transports).

Server INVITE (§17.2.1). Starts in *Proceeding* and hands the INVITE to the TU. If the
TU sends no provisional within ``trying_delay`` the transaction sends 100 Trying itself.
A retransmitted INVITE is answered with the last provisional. A 2xx from the TU moves
to *Accepted* (RFC 6026): 2xx retransmission is the TU's job, INVITE retransmissions are
absorbed, and Timer L (64·T1) ends it. A 300-699 moves to *Completed*: Timer G
retransmits it (doubling up to T2, unreliable only), an ACK moves to *Confirmed*, and
Timer H (64·T1) gives up waiting for the ACK. *Confirmed* absorbs ACKs until Timer I (T4,
0 on reliable transports).

Server non-INVITE (§17.2.2). Starts in *Trying* and hands the request to the TU;
retransmissions are absorbed silently until the TU answers. A provisional moves to
*Proceeding* (retransmissions get the last provisional), a final to *Completed*
(retransmissions get the final) until Timer J (64·T1, 0 on reliable transports).

Messages received in a state where the table has no entry are absorbed (a late 1xx in
*Completed*, say). A TU ``send`` with no entry is our bug and raises
``LocalProtocolError`` naming the state and the response class.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

from centralino.sip.errors import LocalProtocolError
from centralino.sip.events import (
    RequestReceived,
    ResponseReceived,
    TransactionEvent,
    TransactionTerminated,
    TransactionTimeout,
)
from centralino.sip.message import Message, Request, Response
from centralino.sip.responses import make_response
from centralino.sip.timers import DEFAULT_TIMERS, TimerConfig

__all__ = [
    "ClientTransaction",
    "ServerTransaction",
    "TransactionState",
    "build_cancel",
    "build_non2xx_ack",
]


class TransactionState(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


S = TransactionState

# state -> input -> (next state, action). Inputs: received response classes ("1xx",
# "2xx", "3-6xx"; non-INVITE uses "final" for 2xx-6xx), "request"/"ack" (server side),
# "send_*" (TU sends a response) and "timer_X".
_CLIENT_INVITE: dict[S, dict[str, tuple[S, str]]] = {
    S.CALLING: {
        "1xx": (S.PROCEEDING, "pass_up"),
        "2xx": (S.ACCEPTED, "pass_up"),
        "3-6xx": (S.COMPLETED, "ack_and_pass_up"),
        "timer_A": (S.CALLING, "retransmit"),
        "timer_B": (S.TERMINATED, "time_out"),
    },
    S.PROCEEDING: {
        "1xx": (S.PROCEEDING, "pass_up"),
        "2xx": (S.ACCEPTED, "pass_up"),
        "3-6xx": (S.COMPLETED, "ack_and_pass_up"),
    },
    S.COMPLETED: {
        "3-6xx": (S.COMPLETED, "resend_ack"),
        "timer_D": (S.TERMINATED, "nothing"),
    },
    S.ACCEPTED: {
        "2xx": (S.ACCEPTED, "pass_up"),
        "timer_M": (S.TERMINATED, "nothing"),
    },
}

_CLIENT_NON_INVITE: dict[S, dict[str, tuple[S, str]]] = {
    S.TRYING: {
        "1xx": (S.PROCEEDING, "pass_up"),
        "final": (S.COMPLETED, "pass_up"),
        "timer_E": (S.TRYING, "retransmit"),
        "timer_F": (S.TERMINATED, "time_out"),
    },
    S.PROCEEDING: {
        "1xx": (S.PROCEEDING, "pass_up"),
        "final": (S.COMPLETED, "pass_up"),
        "timer_E": (S.PROCEEDING, "retransmit"),
        "timer_F": (S.TERMINATED, "time_out"),
    },
    S.COMPLETED: {
        "timer_K": (S.TERMINATED, "nothing"),
    },
}

_SERVER_INVITE: dict[S, dict[str, tuple[S, str]]] = {
    S.PROCEEDING: {
        "request": (S.PROCEEDING, "resend_last"),
        "timer_trying": (S.PROCEEDING, "send_trying"),
        "send_1xx": (S.PROCEEDING, "transmit"),
        "send_2xx": (S.ACCEPTED, "transmit"),
        "send_3-6xx": (S.COMPLETED, "transmit"),
    },
    S.COMPLETED: {
        "request": (S.COMPLETED, "resend_last"),
        "ack": (S.CONFIRMED, "nothing"),
        "timer_G": (S.COMPLETED, "retransmit"),
        "timer_H": (S.TERMINATED, "time_out"),
    },
    S.CONFIRMED: {
        "timer_I": (S.TERMINATED, "nothing"),
    },
    S.ACCEPTED: {
        "send_2xx": (S.ACCEPTED, "transmit"),
        "ack": (S.ACCEPTED, "pass_up"),
        "timer_L": (S.TERMINATED, "nothing"),
    },
}

_SERVER_NON_INVITE: dict[S, dict[str, tuple[S, str]]] = {
    S.TRYING: {
        "send_1xx": (S.PROCEEDING, "transmit"),
        "send_final": (S.COMPLETED, "transmit"),
    },
    S.PROCEEDING: {
        "request": (S.PROCEEDING, "resend_last"),
        "send_1xx": (S.PROCEEDING, "transmit"),
        "send_final": (S.COMPLETED, "transmit"),
    },
    S.COMPLETED: {
        "request": (S.COMPLETED, "resend_last"),
        "timer_J": (S.TERMINATED, "nothing"),
    },
}


def _response_input(status: int, invite: bool) -> str:
    if status < 200:
        return "1xx"
    if not invite:
        return "final"
    return "2xx" if status < 300 else "3-6xx"


def build_non2xx_ack(invite: Request, response: Response) -> Request:
    """The ACK a client INVITE transaction sends for a 300-699 (§17.1.1.3).

    Same Request-URI, top Via, From, Call-ID, CSeq number and Route as the INVITE; To
    from the response (it carries the tag).
    """
    ack = Request("ACK", invite.uri_text)
    items = ack.headers._items
    vias = invite.headers.values("Via")
    items.append(("via", "Via", vias[0]))
    items.append(("max-forwards", "Max-Forwards", "70"))
    for key, name, value in invite.headers._items:
        if key in ("from", "call-id", "route"):
            items.append((key, name, value))
    items.append(("to", "To", response.headers.get("To") or ""))
    items.append(("cseq", "CSeq", f"{invite.cseq.seq} ACK"))
    return ack


def build_cancel(invite: Request) -> Request:
    """The CANCEL for an INVITE we sent (§9.1).

    Same Request-URI, top Via (so it matches the INVITE's server transaction), From,
    To, Call-ID, CSeq number and Route; sent in its own client transaction.
    """
    cancel = Request("CANCEL", invite.uri_text)
    items = cancel.headers._items
    items.append(("via", "Via", invite.headers.values("Via")[0]))
    items.append(("max-forwards", "Max-Forwards", "70"))
    for key, name, value in invite.headers._items:
        if key in ("from", "to", "call-id", "route"):
            items.append((key, name, value))
    items.append(("cseq", "CSeq", f"{invite.cseq.seq} CANCEL"))
    return cancel


class _Transaction:
    """What both sides share: state, timers, the event queue and the send queue."""

    _table: dict[S, dict[str, tuple[S, str]]]

    def __init__(self, request: Request, *, reliable: bool, timers: TimerConfig) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.is_invite = request.method == "INVITE"
        self.state: S
        self._deadlines: dict[str, float] = {}
        self._intervals: dict[str, float] = {}
        self._events: deque[TransactionEvent] = deque()
        self._outgoing: list[Message] = []

    @property
    def terminated(self) -> bool:
        return self.state is S.TERMINATED

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called, or ``None`` if no timer runs."""
        return min(self._deadlines.values()) if self._deadlines else None

    def handle_timer(self, now: float) -> None:
        while self._deadlines and not self.terminated:
            name = min(self._deadlines, key=self._deadlines.__getitem__)
            if self._deadlines[name] > now:
                return
            del self._deadlines[name]
            self._input(f"timer_{name}", now, None)

    def next_event(self) -> TransactionEvent | None:
        return self._events.popleft() if self._events else None

    def messages_to_send(self) -> list[Message]:
        out, self._outgoing = self._outgoing, []
        return out

    # -- machinery ---------------------------------------------------------------------

    def _input(self, name: str, now: float, message: Message | None) -> bool:
        """Apply one input; return False if the table has no entry (message absorbed)."""
        entry = self._table.get(self.state, {}).get(name)
        if entry is None:
            return False
        next_state, action = entry
        previous = self.state
        self.state = next_state
        handler: Callable[[float, Message | None], None] = getattr(self, "_do_" + action)
        handler(now, message)
        if next_state is not previous:
            self._enter(next_state, now)
        return True

    def _enter(self, state: S, now: float) -> None:
        raise NotImplementedError

    def _start(self, name: str, now: float, duration: float) -> None:
        self._deadlines[name] = now + duration

    def _keep_only(self, *names: str) -> None:
        self._deadlines = {k: v for k, v in self._deadlines.items() if k in names}

    def _finish(self, now: float, duration: float, timer: str) -> None:
        # Zero-length "wait for stragglers" timers (reliable transports) end at once.
        self._keep_only()
        if duration <= 0:
            self._terminate()
        else:
            self._start(timer, now, duration)

    def _terminate(self) -> None:
        self.state = S.TERMINATED
        self._deadlines.clear()
        self._events.append(TransactionTerminated(self))  # type: ignore[arg-type]

    def _do_nothing(self, now: float, message: Message | None) -> None:
        pass

    def _do_time_out(self, now: float, message: Message | None) -> None:
        self._events.append(TransactionTimeout(self))  # type: ignore[arg-type]


class ClientTransaction(_Transaction):
    """A client transaction; the request is queued for sending on construction."""

    def __init__(
        self,
        request: Request,
        now: float,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK is never sent in a client transaction (§17.1)")
        super().__init__(request, reliable=reliable, timers=timers)
        self._table = _CLIENT_INVITE if self.is_invite else _CLIENT_NON_INVITE
        self.state = S.CALLING if self.is_invite else S.TRYING
        self.ack: Request | None = None
        self._outgoing.append(request)
        retransmit = "A" if self.is_invite else "E"
        if not reliable:
            self._intervals[retransmit] = timers.t1
            self._start(retransmit, now, timers.t1)
        self._start("B" if self.is_invite else "F", now, timers.timeout)

    @property
    def branch(self) -> str | None:
        return self.request.top_via.branch

    def receive(self, response: Response, now: float) -> None:
        self._input(_response_input(response.status, self.is_invite), now, response)

    def _enter(self, state: S, now: float) -> None:
        if state is S.PROCEEDING:
            # INVITE: Timers A and B only run in Calling. Non-INVITE keeps E and F.
            if self.is_invite:
                self._keep_only()
        elif state is S.ACCEPTED:
            self._keep_only()
            self._start("M", now, self.timers.timeout)
        elif state is S.COMPLETED:
            if self.is_invite:
                self._finish(now, self.timers.timer_d(self.reliable), "D")
            else:
                self._finish(now, self.timers.timer_k(self.reliable), "K")
        elif state is S.TERMINATED:
            self._terminate()

    def _do_pass_up(self, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        self._events.append(ResponseReceived(message, self))

    def _do_ack_and_pass_up(self, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        self.ack = build_non2xx_ack(self.request, message)
        self._outgoing.append(self.ack)
        self._events.append(ResponseReceived(message, self))

    def _do_resend_ack(self, now: float, message: Message | None) -> None:
        if self.ack is not None:
            self._outgoing.append(self.ack)

    def _do_retransmit(self, now: float, message: Message | None) -> None:
        self._outgoing.append(self.request)
        name = "A" if self.is_invite else "E"
        interval = self._intervals[name]
        if self.is_invite:
            interval *= 2
        elif self.state is S.PROCEEDING:
            interval = self.timers.t2
        else:
            interval = min(interval * 2, self.timers.t2)
        self._intervals[name] = interval
        self._start(name, now, interval)


class ServerTransaction(_Transaction):
    """A server transaction; the request is handed to the TU as its first event."""

    def __init__(
        self,
        request: Request,
        now: float,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK never creates a server transaction (§17.2.3)")
        super().__init__(request, reliable=reliable, timers=timers)
        self._table = _SERVER_INVITE if self.is_invite else _SERVER_NON_INVITE
        self.state = S.PROCEEDING if self.is_invite else S.TRYING
        self.last_response: Response | None = None
        self._events.append(RequestReceived(request, self))
        if self.is_invite:
            self._start("trying", now, timers.trying_delay)

    def receive(self, request: Request, now: float) -> None:
        """A retransmission of the request, or the ACK for a non-2xx final."""
        self._input("ack" if request.method == "ACK" else "request", now, request)

    def send(self, response: Response, now: float) -> None:
        """The TU's response. Raises ``LocalProtocolError`` if the state forbids it."""
        name = "send_" + _response_input(response.status, self.is_invite)
        if not self._input(name, now, response):
            raise LocalProtocolError(
                f"cannot send a {response.status} in state {self.state.value} "
                f"of the {self.request.method} server transaction"
            )

    def _enter(self, state: S, now: float) -> None:
        if state is S.ACCEPTED:
            self._keep_only()
            self._start("L", now, self.timers.timeout)
        elif state is S.COMPLETED:
            self._keep_only()
            if self.is_invite:
                if not self.reliable:
                    self._intervals["G"] = self.timers.t1
                    self._start("G", now, self.timers.t1)
                self._start("H", now, self.timers.timeout)
            else:
                self._finish(now, self.timers.timer_j(self.reliable), "J")
        elif state is S.CONFIRMED:
            self._finish(now, self.timers.timer_i(self.reliable), "I")
        elif state is S.TERMINATED:
            self._terminate()

    def _do_transmit(self, now: float, message: Message | None) -> None:
        assert isinstance(message, Response)
        self.last_response = message
        self._deadlines.pop("trying", None)
        self._outgoing.append(message)

    def _do_send_trying(self, now: float, message: Message | None) -> None:
        if self.last_response is None:
            self.last_response = make_response(self.request, 100)
            self._outgoing.append(self.last_response)

    def _do_resend_last(self, now: float, message: Message | None) -> None:
        if self.last_response is not None:
            self._outgoing.append(self.last_response)

    def _do_retransmit(self, now: float, message: Message | None) -> None:
        if self.last_response is not None:
            self._outgoing.append(self.last_response)
        interval = min(self._intervals["G"] * 2, self.timers.t2)
        self._intervals["G"] = interval
        self._start("G", now, interval)

    def _do_pass_up(self, now: float, message: Message | None) -> None:
        assert isinstance(message, Request)
        self._events.append(RequestReceived(message, None))

"""Transaction state machines and the transaction layer (RFC 3261 §17), without sockets.

FEAT-01: SIP over UDP (retransmissions) and reliable transports (none).
"""

from __future__ import annotations

import pytest

from centralino.sip import (
    DEFAULT_TIMERS,
    ClientTransaction,
    LocalProtocolError,
    Request,
    RequestReceived,
    Response,
    ResponseReceived,
    ServerTransaction,
    TimerConfig,
    TransactionLayer,
    TransactionState,
    TransactionTerminated,
    TransactionTimeout,
    build_cancel,
    make_response,
    parse_message,
)
from centralino.sip.events import TransactionEvent


def request(method: str = "INVITE", branch: str = "z9hG4bKabc", seq: int = 1) -> Request:
    data = (
        f"{method} sip:202@pbx.example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n"
        "Max-Forwards: 70\r\nTo: <sip:202@pbx.example.com>\r\n"
        "From: <sip:201@pbx.example.com>;tag=a1\r\nCall-ID: call-1\r\n"
        f"CSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def drain(txn: ClientTransaction | ServerTransaction) -> list[TransactionEvent]:
    events = []
    while (event := txn.next_event()) is not None:
        events.append(event)
    return events


def retransmission_times(txn: ClientTransaction | ServerTransaction, until: float) -> list[float]:
    """Run the timers up to ``until``; return when something was (re)sent."""
    sent = []
    while (deadline := txn.get_timer()) is not None and deadline <= until:
        txn.handle_timer(deadline)
        if txn.messages_to_send():
            sent.append(round(deadline, 6))
    return sent


def test_timer_a_doubles_without_cap_until_timer_b() -> None:
    """§17.1.1.2: INVITE retransmits at T1, 2T1, 4T1... and times out at 64·T1."""
    txn = ClientTransaction(request(), 0.0, reliable=False)
    assert [m.method for m in txn.messages_to_send()] == ["INVITE"]  # type: ignore[attr-defined]
    assert retransmission_times(txn, 31.9) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert txn.get_timer() == pytest.approx(32.0)  # Timer B = 64·T1
    txn.handle_timer(32.0)
    events = drain(txn)
    assert isinstance(events[0], TransactionTimeout) and isinstance(
        events[1], TransactionTerminated
    )
    assert txn.state is TransactionState.TERMINATED


def test_timer_e_doubles_up_to_t2_then_f_times_out() -> None:
    """§17.1.2.2: non-INVITE retransmits at 0.5, 1, 2, 4, 4, 4... until 64·T1."""
    txn = ClientTransaction(request("OPTIONS"), 0.0, reliable=False)
    txn.messages_to_send()
    times = retransmission_times(txn, 100.0)
    intervals = [round(b - a, 6) for a, b in zip([0.0, *times], times, strict=False)]
    assert intervals[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert set(intervals[4:]) == {4.0}
    assert txn.state is TransactionState.TERMINATED
    assert any(isinstance(e, TransactionTimeout) for e in drain(txn))


def test_non_invite_proceeding_retransmits_every_t2() -> None:
    txn = ClientTransaction(request("OPTIONS"), 0.0, reliable=False)
    txn.messages_to_send()
    txn.receive(make_response(txn.request, 100), 0.1)
    assert txn.state is TransactionState.PROCEEDING
    assert retransmission_times(txn, 20.0)[:3] == [0.5, 4.5, 8.5]


def test_reliable_transport_has_no_retransmissions() -> None:
    txn = ClientTransaction(request(), 0.0, reliable=True)
    txn.messages_to_send()
    assert txn.get_timer() == pytest.approx(32.0)  # only Timer B
    assert retransmission_times(txn, 100.0) == []
    assert txn.state is TransactionState.TERMINATED


@pytest.mark.parametrize(("reliable", "timer_d"), [(False, 32.0), (True, None)])
def test_invite_non2xx_is_acked_and_timer_d(reliable: bool, timer_d: float | None) -> None:
    """§17.1.1.3: the transaction ACKs a 486 itself; Timer D is 32 s on UDP, 0 on TCP."""
    txn = ClientTransaction(request(), 0.0, reliable=reliable)
    txn.messages_to_send()
    busy = make_response(txn.request, 486, to_tag="b1")
    txn.receive(busy, 1.0)
    (ack,) = txn.messages_to_send()
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.top_via.branch == "z9hG4bKabc" and ack.to.tag == "b1"
    assert (ack.cseq.seq, ack.cseq.method) == (1, "ACK")
    events = drain(txn)
    assert isinstance(events[0], ResponseReceived) and events[0].response.status == 486
    if timer_d is None:
        assert txn.state is TransactionState.TERMINATED
        return
    assert txn.state is TransactionState.COMPLETED
    assert txn.get_timer() == pytest.approx(1.0 + timer_d)
    txn.receive(busy, 2.0)  # retransmitted 486: ACK again, not passed up
    assert [m.method for m in txn.messages_to_send()] == ["ACK"]  # type: ignore[attr-defined]
    assert drain(txn) == []
    txn.handle_timer(1.0 + timer_d)
    assert txn.state is TransactionState.TERMINATED


def test_invite_2xx_goes_to_accepted_and_every_2xx_is_passed_up() -> None:
    """RFC 6026: 2xx retransmissions and forked 2xx reach the TU until Timer M."""
    txn = ClientTransaction(request(), 0.0, reliable=False)
    txn.messages_to_send()
    txn.receive(make_response(txn.request, 180, to_tag="x"), 0.2)
    txn.receive(make_response(txn.request, 200, to_tag="x"), 0.3)
    txn.receive(make_response(txn.request, 200, to_tag="y"), 0.4)
    statuses = [e.response.status for e in drain(txn) if isinstance(e, ResponseReceived)]
    assert statuses == [180, 200, 200]
    assert txn.state is TransactionState.ACCEPTED and txn.messages_to_send() == []
    txn.handle_timer(0.3 + 32.0)
    assert txn.state is TransactionState.TERMINATED


def test_server_invite_trying_after_200ms_unless_tu_answers() -> None:
    """§17.2.1: 100 Trying is sent 200 ms after the INVITE if the TU has not answered."""
    txn = ServerTransaction(request(), 0.0, reliable=False)
    assert isinstance(drain(txn)[0], RequestReceived)
    assert txn.get_timer() == pytest.approx(0.2)
    txn.handle_timer(0.2)
    (trying,) = txn.messages_to_send()
    assert isinstance(trying, Response) and trying.status == 100
    quick = ServerTransaction(request(), 0.0, reliable=False)
    quick.send(make_response(quick.request, 180, to_tag="t"), 0.05)
    assert quick.get_timer() is None
    assert [m.status for m in quick.messages_to_send()] == [180]  # type: ignore[attr-defined]


def test_server_invite_absorbs_retransmissions_and_timer_g_h() -> None:
    txn = ServerTransaction(request(), 0.0, reliable=False)
    drain(txn)
    txn.send(make_response(txn.request, 180, to_tag="t"), 0.1)
    txn.messages_to_send()
    txn.receive(request(), 0.5)  # retransmitted INVITE: resend the 180, not to the TU
    assert [m.status for m in txn.messages_to_send()] == [180]  # type: ignore[attr-defined]
    assert drain(txn) == []
    txn.send(make_response(txn.request, 486, to_tag="t"), 1.0)
    txn.messages_to_send()
    # Timer G: 0.5, 1, 2, 4, 4... capped at T2; Timer H at 64·T1 gives up.
    times = retransmission_times(txn, 100.0)
    assert times[:5] == [1.5, 2.5, 4.5, 8.5, 12.5]
    assert txn.state is TransactionState.TERMINATED
    assert any(isinstance(e, TransactionTimeout) for e in drain(txn))


def test_server_invite_ack_confirms_then_timer_i() -> None:
    txn = ServerTransaction(request(), 0.0, reliable=False)
    txn.send(make_response(txn.request, 404, to_tag="t"), 0.1)
    ack = request("ACK")
    txn.receive(ack, 0.2)
    assert txn.state is TransactionState.CONFIRMED
    assert txn.get_timer() == pytest.approx(0.2 + DEFAULT_TIMERS.t4)
    reliable = ServerTransaction(request(), 0.0, reliable=True)
    reliable.send(make_response(reliable.request, 404, to_tag="t"), 0.1)
    reliable.receive(ack, 0.2)
    assert reliable.state is TransactionState.TERMINATED


def test_server_non_invite_timer_j_and_local_errors() -> None:
    txn = ServerTransaction(request("REGISTER"), 0.0, reliable=False)
    txn.receive(request("REGISTER"), 0.1)
    assert txn.messages_to_send() == []  # Trying: retransmissions are absorbed silently
    txn.send(make_response(txn.request, 200, to_tag="t"), 0.2)
    txn.receive(request("REGISTER"), 0.3)
    assert [m.status for m in txn.messages_to_send()] == [200, 200]  # type: ignore[attr-defined]
    assert txn.get_timer() == pytest.approx(0.2 + 32.0)
    with pytest.raises(LocalProtocolError, match="state Completed"):
        txn.send(make_response(txn.request, 500), 0.4)
    tcp = ServerTransaction(request("REGISTER"), 0.0, reliable=True)
    tcp.send(make_response(tcp.request, 200), 0.1)
    assert tcp.state is TransactionState.TERMINATED
    with pytest.raises(LocalProtocolError):
        ClientTransaction(request("ACK"), 0.0, reliable=True)


def test_custom_timers() -> None:
    timers = TimerConfig(t1=0.1, t2=0.4, t4=1.0)
    txn = ClientTransaction(request("OPTIONS"), 0.0, reliable=False, timers=timers)
    txn.messages_to_send()
    assert retransmission_times(txn, 1.2) == [0.1, 0.3, 0.7, 1.1]
    with pytest.raises(ValueError, match="T1 <= T2"):
        TimerConfig(t1=5.0, t2=4.0)


# -- the layer -----------------------------------------------------------------------


def layer_events(layer: TransactionLayer) -> list[TransactionEvent]:
    events = []
    while (event := layer.next_event()) is not None:
        events.append(event)
    return events


def test_layer_matches_retransmissions_and_cancel() -> None:
    layer = TransactionLayer()
    invite = request()
    layer.receive(invite, 0.0, reliable=False, source="flow-1")
    (new,) = layer_events(layer)
    assert isinstance(new, RequestReceived) and new.transaction is not None
    invite_txn = new.transaction
    layer.receive(request(), 0.1, reliable=False, source="flow-1")  # retransmission
    assert layer_events(layer) == [] and len(layer) == 1
    layer.receive(request("CANCEL"), 0.15, reliable=False, source="flow-1")
    (cancel,) = layer_events(layer)
    assert isinstance(cancel, RequestReceived) and cancel.request.method == "CANCEL"
    assert cancel.cancelled is invite_txn and cancel.transaction is not invite_txn
    other = request("CANCEL", branch="z9hG4bKother")
    layer.receive(other, 0.16, reliable=False)
    (unmatched,) = layer_events(layer)
    assert isinstance(unmatched, RequestReceived) and unmatched.cancelled is None
    # Timer "trying" fires through the layer; the 100 goes back where the INVITE came from.
    assert layer.get_timer() == pytest.approx(0.2)
    layer.handle_timer(0.2)
    out = layer.messages_to_send()
    assert [(o.message.status, o.destination) for o in out] == [(100, "flow-1")]  # type: ignore[attr-defined]


def test_layer_acks_non2xx_in_transaction_and_passes_2xx_ack_up() -> None:
    layer = TransactionLayer()
    layer.receive(request(), 0.0, reliable=False)
    (new,) = layer_events(layer)
    assert isinstance(new, RequestReceived) and new.transaction is not None
    txn = new.transaction
    layer.send_response(txn, make_response(txn.request, 486, to_tag="t"), 0.1)
    layer.receive(request("ACK"), 0.2, reliable=False)
    assert layer_events(layer) == [] and txn.state is TransactionState.CONFIRMED
    ack_2xx = request("ACK", branch="z9hG4bKnew")
    layer.receive(ack_2xx, 0.3, reliable=False, source="f")
    (event,) = layer_events(layer)
    assert isinstance(event, RequestReceived) and event.transaction is None
    layer.handle_timer(0.2 + DEFAULT_TIMERS.t4)
    assert any(isinstance(e, TransactionTerminated) for e in layer_events(layer))
    assert len(layer) == 0


def test_layer_client_side_and_stray_responses() -> None:
    layer = TransactionLayer()
    txn = layer.send_request(request("OPTIONS"), 0.0, reliable=True, destination="peer")
    assert [(o.message, o.destination) for o in layer.messages_to_send()] == [(txn.request, "peer")]
    layer.receive(make_response(txn.request, 200), 0.1, reliable=True)
    events = layer_events(layer)
    assert isinstance(events[0], ResponseReceived) and events[0].transaction is txn
    assert isinstance(events[1], TransactionTerminated) and len(layer) == 0
    layer.receive(make_response(txn.request, 200), 0.2, reliable=True, source="peer")
    (stray,) = layer_events(layer)
    assert isinstance(stray, ResponseReceived) and stray.transaction is None
    layer.send_stateless(request("ACK"), "peer")
    assert layer.messages_to_send()[0].destination == "peer"


def test_layer_rfc2543_matching_without_magic_cookie() -> None:
    layer = TransactionLayer()
    old = request("INVITE", branch="1234")
    layer.receive(old, 0.0, reliable=False)
    layer_events(layer)
    layer.receive(request("INVITE", branch="1234"), 0.1, reliable=False)
    assert layer_events(layer) == [] and len(layer) == 1
    layer.receive(request("INVITE", branch="1234", seq=2), 0.2, reliable=False)
    assert len(layer_events(layer)) == 1 and len(layer) == 2


def test_layer_timer_heap_survives_many_transactions() -> None:
    layer = TransactionLayer()
    for i in range(200):
        layer.send_request(request("OPTIONS", branch=f"z9hG4bK{i}"), i * 0.01, reliable=False)
    layer.messages_to_send()
    now = 0.0
    while (deadline := layer.get_timer()) is not None:
        now = deadline
        layer.handle_timer(now)
    assert len(layer) == 0
    timeouts = [e for e in layer_events(layer) if isinstance(e, TransactionTimeout)]
    assert len(timeouts) == 200 and now == pytest.approx(1.99 + 32.0)


def test_cancel_built_for_our_invite_matches_its_server_transaction() -> None:
    """§9.1: a CANCEL we build lands on the peer's INVITE transaction."""
    invite = request()
    invite.headers.add("Route", "<sip:p1.example.com;lr>")
    cancel = build_cancel(invite)
    assert (cancel.method, cancel.uri_text, cancel.cseq.seq, cancel.cseq.method) == (
        "CANCEL",
        invite.uri_text,
        1,
        "CANCEL",
    )
    assert cancel.top_via.branch == invite.top_via.branch
    assert cancel.headers.get("Route") == "<sip:p1.example.com;lr>"
    peer = TransactionLayer()
    peer.receive(invite, 0.0, reliable=True)
    (received,) = layer_events(peer)
    peer.receive(parse_message(cancel.serialize()), 0.1, reliable=True)
    (event,) = layer_events(peer)
    assert isinstance(event, RequestReceived) and event.cancelled is not None
    assert event.cancelled is received.transaction  # type: ignore[union-attr]

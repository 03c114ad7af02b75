"""Dialogs (RFC 3261 §12): route sets, CSeq, target refresh, forking (EXT-04, REG-07)."""

from __future__ import annotations

import pytest

from centralino.sip import (
    Address,
    Dialog,
    DialogSet,
    DialogState,
    LocalProtocolError,
    Request,
    SipParseError,
    Via,
    make_response,
    parse_message,
    parse_uri,
)

INVITE = (
    b"INVITE sip:202@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv1\r\n"
    b"Max-Forwards: 70\r\nTo: <sip:202@pbx.example.com>\r\n"
    b"From: Alice <sip:201@pbx.example.com>;tag=alice1\r\nCall-ID: dlg-1\r\n"
    b"CSeq: 10 INVITE\r\nContact: <sip:201@192.0.2.10:5060>\r\n"
    b"Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def invite() -> Request:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    return message


def answer(request: Request, status: int, tag: str, contact: str) -> object:
    response = make_response(request, status, to_tag=tag)
    response.headers.add("Contact", f"<{contact}>")
    for value in request.headers.get_all("Record-Route"):
        response.headers.add("Record-Route", value)
    return response


def test_uac_dialog_from_2xx_reverses_record_route_and_builds_bye() -> None:
    request = invite()
    ok = answer(request, 200, "bob1", "sip:202@192.0.2.20:5070")
    dialog = Dialog.from_uac_response(request, ok)  # type: ignore[arg-type]
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.id.remote_tag == "bob1" and dialog.id.local_tag == "alice1"
    assert [r.uri.host for r in dialog.route_set] == ["p1.example.com", "p2.example.com"]
    bye = dialog.create_request(
        "BYE", via=Via("192.0.2.10", 5060), random_bytes=lambda n: b"\x00" * n
    )
    assert str(bye.uri) == "sip:202@192.0.2.20:5070"  # loose routing: remote target
    assert [r.uri.host for r in bye.routes] == ["p1.example.com", "p2.example.com"]
    assert (bye.cseq.seq, bye.cseq.method) == (11, "BYE")
    assert bye.to.tag == "bob1" and bye.from_.tag == "alice1"
    assert bye.top_via.branch == "z9hG4bK" + "00" * 12
    ack = dialog.create_ack(10, via=Via("192.0.2.10", 5060))
    assert (ack.cseq.seq, ack.cseq.method) == (10, "ACK") and dialog.local_seq == 11
    reparsed = parse_message(bye.serialize())
    reparsed.validate()


def test_uas_dialog_keeps_record_route_order_and_checks_remote_cseq() -> None:
    request = invite()
    dialog = Dialog.from_uas_request(request, "srv9", confirmed=True)
    assert [r.uri.host for r in dialog.route_set] == ["p2.example.com", "p1.example.com"]
    assert str(dialog.remote_target) == "sip:201@192.0.2.10:5060"
    assert dialog.local_uri.tag == "srv9" and dialog.remote_seq == 10
    reinvite = dialog.create_request("INVITE")
    assert reinvite.to.tag == "alice1"
    old = parse_message(
        INVITE.replace(b"CSeq: 10 INVITE", b"CSeq: 9 BYE").replace(b"INVITE sip", b"BYE sip")
    )
    assert isinstance(old, Request)
    with pytest.raises(SipParseError) as info:
        dialog.receive_request(old)
    assert info.value.status_hint == 500
    refresh = parse_message(
        INVITE.replace(b"CSeq: 10", b"CSeq: 11").replace(b"192.0.2.10:5060>", b"192.0.2.99:5099>")
    )
    assert isinstance(refresh, Request)
    dialog.receive_request(refresh)
    assert str(dialog.remote_target) == "sip:201@192.0.2.99:5099"


def test_forked_invite_creates_one_early_dialog_per_remote_tag() -> None:
    """EXT-04 / REG-07: an INVITE offered to several devices forks into early dialogs."""
    request = invite()
    dialogs = DialogSet(request)
    assert dialogs.receive_response(make_response(request, 100)) is None
    a = dialogs.receive_response(answer(request, 180, "desk", "sip:202@10.0.0.1"))  # type: ignore[arg-type]
    b = dialogs.receive_response(answer(request, 183, "soft", "sip:202@10.0.0.2"))  # type: ignore[arg-type]
    assert a is not None and b is not None and a is not b
    assert {d.state for d in dialogs.dialogs.values()} == {DialogState.EARLY}
    ok = answer(request, 200, "soft", "sip:202@10.0.0.22")
    ok.headers.remove("Record-Route")  # type: ignore[attr-defined]
    ok.headers.add("Record-Route", "<sip:edge.example.com;lr>")  # type: ignore[attr-defined]
    confirmed = dialogs.receive_response(ok)  # type: ignore[arg-type]
    assert confirmed is b and b.state is DialogState.CONFIRMED
    # The 2xx recomputes the early dialog: new target and route set (§13.2.2.4).
    assert str(b.remote_target) == "sip:202@10.0.0.22"
    assert [r.uri.host for r in b.route_set] == ["edge.example.com"]
    assert dialogs.confirmed == [b] and a.state is DialogState.EARLY
    dialogs.receive_response(make_response(request, 487, to_tag="desk"))
    assert a.state is DialogState.TERMINATED and b.state is DialogState.CONFIRMED


def test_strict_router_first_in_route_set() -> None:
    request = invite()
    ok = answer(request, 200, "b", "sip:202@10.0.0.5")
    ok.headers.set("Record-Route", "<sip:p2.example.com;lr>, <sip:strict.example.com>")  # type: ignore[attr-defined]
    dialog = Dialog.from_uac_response(request, ok)  # type: ignore[arg-type]
    bye = dialog.create_request("BYE")
    assert bye.uri == parse_uri("sip:strict.example.com")
    assert [str(r.uri) for r in bye.routes] == ["sip:p2.example.com;lr", "sip:202@10.0.0.5"]


def test_dialog_misuse_and_termination() -> None:
    request = invite()
    with pytest.raises(LocalProtocolError):
        Dialog.from_uac_response(request, make_response(request, 180))  # no To tag
    ok = answer(request, 200, "b", "sip:202@10.0.0.5")
    dialog = Dialog.from_uac_response(request, ok)  # type: ignore[arg-type]
    bye = dialog.create_request("BYE")
    dialog.update_from_response(bye, make_response(bye, 481))
    assert dialog.state is DialogState.TERMINATED
    with pytest.raises(LocalProtocolError, match="terminated dialog"):
        dialog.create_request("INFO", contact=Address(parse_uri("sip:a@b")))

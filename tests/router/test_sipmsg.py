"""The router's SIP message view over the shared core: parse, edit, serialise; garbage
gets one typed error with the status to answer."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centralino_router.sipmsg import (
    SipMessage,
    SipParseError,
    response_to,
    split_list,
    tag_of,
    uri_hostport,
    uri_of,
    uri_user,
)

INVITE = (
    b"INVITE sip:201@127.0.0.1:5070 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKcx1;rport, "
    b"SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2\r\n"
    b'f: "Ada, L." <sip:200@acme>;tag=abc\r\n'
    b"t: <sip:201@acme>\r\n"
    b"i: call-1@host\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Record-Route: <sip:127.0.0.1:5080;lr;cx=i>,<sip:10.0.0.1;lr;cx=e>\r\n"
    b"Subject: folded\r\n value\r\n"
    b"X-Centralino-Account: ada\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\r\nIGNORED"
)


def test_parse_expands_compact_headers_and_splits_lists() -> None:
    msg = SipMessage.parse(INVITE)
    assert (msg.method, msg.uri, msg.call_id, msg.cseq) == (
        "INVITE",
        "sip:201@127.0.0.1:5070",
        "call-1@host",
        (7, "INVITE"),
    )
    assert msg.branch == "z9hG4bKcx1"
    assert len(msg.get_all("Via")) == 2
    assert msg.get_all("Record-Route") == ["<sip:127.0.0.1:5080;lr;cx=i>", "<sip:10.0.0.1;lr;cx=e>"]
    assert msg.from_tag == "abc" and msg.to_tag is None
    assert msg.get("subject") == "folded value"
    assert msg.get("X-Centralino-Account") == "ada"
    assert msg.body == b"v=0\r"[:4]


def test_encode_round_trips_and_recomputes_content_length() -> None:
    msg = SipMessage.parse(INVITE)
    msg.body = b"longer body"
    again = SipMessage.parse(msg.encode())
    assert again.body == b"longer body"
    assert again.headers[:5] == msg.headers[:5]


def test_response_copies_dialog_headers_and_adds_the_tag() -> None:
    req = SipMessage.parse(INVITE)
    resp = response_to(req, 180, "Ringing", to_tag="xyz")
    assert resp.status == 180 and resp.to_tag == "xyz"
    assert resp.get_all("Via") == req.get_all("Via")
    assert resp.get_all("Record-Route") == req.get_all("Record-Route")  # RFC 3261 §12.1.1
    assert response_to(req, 100, "Trying").get("Record-Route") is None


@pytest.mark.parametrize(
    "value,expected",
    [
        ('"A, B" <sip:a@b>;tag=1, <sip:c@d>', ['"A, B" <sip:a@b>;tag=1', "<sip:c@d>"]),
        ("<sip:a@b;x=1,2>", ["<sip:a@b;x=1,2>"]),
    ],
)
def test_split_list_respects_quotes_and_brackets(value: str, expected: list[str]) -> None:
    assert split_list(value) == expected


def test_uri_helpers() -> None:
    assert uri_of('"Ada" <sip:200@acme;user=phone>;tag=1') == "sip:200@acme;user=phone"
    assert uri_user(uri_of("<sip:router@127.0.0.1:5070>")) == "router"
    assert tag_of('"Ada" <sip:200@acme;tag=no>;tag=yes') == "yes"
    assert uri_user("sip:201@127.0.0.1:5070") == "201"
    assert uri_hostport("sip:201@[::1]:5070;transport=udp") == ("::1", 5070)
    assert uri_hostport("sip:router.internal") == ("router.internal", 5060)
    with pytest.raises(SipParseError):
        uri_hostport("sip:a@b:port")


@pytest.mark.parametrize(
    "data,status",
    [
        (b"HELLO WORLD\r\n\r\n", 400),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n", 400),
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: seven"), 400),
        (INVITE.replace(b"l: 4", b"l: 400"), 400),
        (INVITE.replace(b"X-Centralino", b"no colon here X"), 400),
        (b"\xff\xfe INVITE\r\n\r\n", 400),
        (b"x" * 70_000, 513),
    ],
)
def test_garbage_is_a_typed_error(data: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as err:
        SipMessage.parse(data)
    assert err.value.status == status


@given(st.binary(max_size=600))
def test_parse_never_raises_anything_else(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        SipMessage.parse(data)


@given(st.lists(st.sampled_from(INVITE.split(b"\r\n")), max_size=14))
def test_reshuffled_lines_parse_or_fail_cleanly(lines: list[bytes]) -> None:
    with contextlib.suppress(SipParseError):
        SipMessage.parse(b"\r\n".join(lines) + b"\r\n\r\n")

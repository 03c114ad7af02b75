"""Messages, headers, URIs and helpers of the SIP core (FEAT-01, REG-01, ACC-12)."""

from __future__ import annotations

import pytest

from centralino.sip import (
    Headers,
    Request,
    Response,
    SipHeaderError,
    SipParseError,
    SipUnsupportedSchemeError,
    SipUri,
    Via,
    apply_received_rport,
    canonical_name,
    generate_branch,
    generate_tag,
    make_response,
    parse_address,
    parse_message,
    parse_uri,
    parse_via,
    try_build_400,
)

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Alice" <sip:201@pbx.example.com>\r\n'
    b'From: "Alice" <sip:201@pbx.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@192.0.2.10\r\n"
    b"CSeq: 314159 REGISTER\r\n"
    b"Contact: <sip:201@192.0.2.10:5062;transport=udp>;expires=3600\r\n"
    b"X-Custom: keep me\r\n"
    b"Content-Length: 0\r\n\r\n"
)

INVITE = (
    b"INVITE sip:202@pbx.example.com SIP/2.0\r\n"
    b"v: SIP/2.0/TCP [2001:db8::10]:5060;branch=z9hG4bKnashds8\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: <sip:202@pbx.example.com>\r\n"
    b"f: Bob <sip:201@pbx.example.com>;tag=456248\r\n"
    b"i: 843817637684230@998sdasdh09\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"m: <sip:201@[2001:db8::10]:5060;transport=tcp>\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Route: <sip:p3.example.com;lr>\r\n"
    b"c: application/sdp\r\n"
    b"l: 5\r\n\r\n"
    b"v=0\r\n"
)


@pytest.mark.parametrize("data", [REGISTER, INVITE], ids=["register", "invite"])
def test_round_trip_is_byte_exact(data: bytes) -> None:
    """Header case, compact forms, order and unknown headers survive parse → serialise."""
    assert parse_message(data).serialize() == data
    assert bytes(parse_message(data)) == data


def test_typed_views_of_a_register() -> None:
    """REG-01: what the registrar needs is reachable through typed accessors."""
    msg = parse_message(REGISTER)
    assert isinstance(msg, Request)
    assert msg.method == "REGISTER"
    assert str(msg.uri) == "sip:pbx.example.com"
    via = msg.top_via
    assert (via.host, via.port, via.transport, via.branch) == (
        "192.0.2.10",
        5062,
        "UDP",
        "z9hG4bK776asdhds",
    )
    assert via.wants_rport and via.rport is None
    assert msg.to.display_name == "Alice" and msg.to.tag is None
    assert msg.from_.tag == "1928301774"
    assert msg.call_id == "a84b4c76e66710@192.0.2.10"
    assert (msg.cseq.seq, msg.cseq.method) == (314159, "REGISTER")
    contact = msg.contacts[0]
    assert contact.params["expires"] == "3600"
    assert contact.uri.transport == "udp" and contact.uri.port == 5062
    assert msg.max_forwards == 70 and msg.expires is None
    assert msg.headers.get("x-custom") == "keep me"


def test_compact_forms_ipv6_and_multi_value_routes() -> None:
    msg = parse_message(INVITE)
    assert msg.top_via.host == "[2001:db8::10]" and msg.top_via.port == 5060
    assert msg.from_.display_name == "Bob"
    assert msg.contacts[0].uri.host == "[2001:db8::10]"
    assert [r.uri.host for r in msg.routes] == [
        "p1.example.com",
        "p2.example.com",
        "p3.example.com",
    ]
    assert msg.content_type == "application/sdp"
    assert msg.body == b"v=0\r\n"
    assert "Content-Type" in msg.headers and "c" in msg.headers and "CALL-ID" in msg.headers


def test_proxy_style_rewrites() -> None:
    """A proxy prepends its Via and pops a Route; Content-Length follows the body."""
    msg = parse_message(INVITE)
    msg.headers.prepend("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKproxy")
    assert msg.headers.pop_first_value("Route") == "<sip:p1.example.com;lr>"
    msg.body = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"
    out = parse_message(msg.serialize())
    assert [v.host for v in out.vias] == ["10.0.0.1", "[2001:db8::10]"]
    assert [r.uri.host for r in out.routes] == ["p2.example.com", "p3.example.com"]
    assert out.headers.get("Content-Length") == str(len(msg.body))
    assert out.body == msg.body


def test_folding_is_unfolded_and_commas_split_only_where_allowed() -> None:
    data = (
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1,\r\n"
        b" SIP/2.0/UDP h2;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
        b"Call-ID: x\r\nCSeq: 1 OPTIONS\r\n"
        b'WWW-Authenticate: Digest realm="a,b", nonce="n"\r\n\r\n'
    )
    msg = parse_message(data)
    assert [v.host for v in msg.vias] == ["h", "h2"]
    assert msg.headers.values("WWW-Authenticate") == ['Digest realm="a,b", nonce="n"']


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "Missing empty line"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: x\r\n", "Missing empty line"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo x\r\n\r\n", "without a colon"),
        (b"INVITE sip:a@b SIP/2.0\r\nT o: x\r\n\r\n", "Bad header name"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: a\nb\r\n\r\n", "Control character"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: a\x00b\r\n\r\n", "Control character"),
        (b"INVITE sip:a@b HTTP/1.1\r\n\r\n", "Bad SIP version"),
        (b"INV\xc3\xa9 sip:a@b SIP/2.0\r\n\r\n", "Bad method"),
        (b"SIP/2.0 99 Low\r\n\r\n", "Bad Status-Line"),
        (b" folded: first\r\n\r\n", "Bad method"),
    ],
)
def test_malformed_messages_name_the_problem(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert reason in info.value.reason
    assert info.value.status_hint == 400


@pytest.mark.parametrize(
    ("header", "value", "accessor"),
    [
        ("CSeq", "abc INVITE", "cseq"),
        ("CSeq", "4294967296 INVITE", "cseq"),
        ("Via", "SIP/2.0 UDP host", "vias"),
        ("From", "<sip:a@b", "from_"),
        ("Max-Forwards", "256", "max_forwards"),
        ("Expires", "-1", "expires"),
    ],
)
def test_bad_structured_headers_raise_header_errors(header: str, value: str, accessor: str) -> None:
    msg = parse_message(REGISTER)
    msg.headers.set(header, value)
    with pytest.raises(SipHeaderError) as info:
        getattr(msg, accessor)
    assert info.value.header == header
    assert info.value.reason.startswith(f"Bad {header} header")


def test_uri_parsing_and_printing() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=y")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "secret",
        "[2001:db8::1]",
        5061,
    )
    assert uri.params == {"transport": "tcp", "lr": None}
    assert uri.headers == [("subject", "hi"), ("x", "y")]
    assert str(uri) == "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=y"
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (tel.user, tel.host, str(tel)) == (
        "+1-201-555-0123",
        "",
        "tel:+1-201-555-0123;phone-context=example.com",
    )
    with pytest.raises(SipUnsupportedSchemeError):
        parse_uri("http://example.com")
    for bad in ("sip:", "sip:a@b:99999", "sip:a b@c", "sip:a@[zz]", "sip:a@b;=x"):
        with pytest.raises(SipParseError):
            parse_uri(bad)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        # RFC 3261 §19.1.4 examples.
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp", True),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", True),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5", True),
        (
            "sip:alice@atlanta.com?subject=project%20x",
            "sip:alice@atlanta.com?SUBJECT=PROJECT%20X",
            True,
        ),
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", False),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", False),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting", False),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com", False),
    ],
)
def test_uri_comparison_rules(a: str, b: str, equal: bool) -> None:
    assert (parse_uri(a) == parse_uri(b)) is equal


def test_addresses() -> None:
    quoted = parse_address('"A \\"B\\" C" <sip:a@b;lr>;tag=x;q=0.5')
    assert quoted.display_name == 'A "B" C'
    assert quoted.uri.params == {"lr": None}
    assert quoted.params == {"tag": "x", "q": "0.5"}
    assert str(quoted) == '"A \\"B\\" C" <sip:a@b;lr>;tag=x;q=0.5'
    bare = parse_address("sip:a@b;tag=1")
    assert bare.uri.params == {} and bare.tag == "1"
    assert str(bare) == "<sip:a@b>;tag=1"
    with pytest.raises(SipHeaderError):
        parse_address("Bell, Alexander <sip:a@b>")


def test_headers_container() -> None:
    headers = Headers.from_pairs([("Via", "a"), ("To", "t"), ("v", "b")])
    assert headers.get_all("VIA") == ["a", "b"]
    headers.set("via", "c")
    assert list(headers) == [("Via", "c"), ("To", "t")]
    assert headers.remove("To") == 1 and "To" not in headers
    assert canonical_name("i") == "Call-ID" and canonical_name("x-foo-bar") == "X-Foo-Bar"
    with pytest.raises(ValueError, match="bad header name"):
        headers.add("Bad Name", "x")


def test_make_response_copies_per_8_2_6() -> None:
    request = parse_message(REGISTER + b"")
    assert isinstance(request, Request)
    request.headers.add("Timestamp", "54")
    ok = make_response(request, 200, to_tag="srv1")
    assert (ok.status, ok.reason) == (200, "OK")
    assert [n for n, _ in ok.headers] == ["Via", "To", "From", "Call-ID", "CSeq"]
    assert ok.to.tag == "srv1" and ok.from_.tag == "1928301774"
    assert ok.serialize().endswith(b"Content-Length: 0\r\n\r\n")
    trying = make_response(request, 100, to_tag="ignored")
    assert trying.to.tag is None and trying.headers.get("Timestamp") == "54"
    custom = make_response(request, 486, "Busy Here Now")
    assert custom.start_line() == "SIP/2.0 486 Busy Here Now"


def test_try_build_400_addresses_what_it_can() -> None:
    """A bad CSeq still gets a 400 naming it; a request without Via is dropped."""
    bad = REGISTER.replace(b"CSeq: 314159 REGISTER", b"CSeq: x REGISTER")
    msg = parse_message(bad)
    with pytest.raises(SipHeaderError) as info:
        msg.validate()
    answer = try_build_400(bad, info.value, to_tag="t1")
    assert answer is not None
    response = parse_message(answer)
    assert isinstance(response, Response)
    assert (response.status, response.reason) == (400, "Bad CSeq header: 'x REGISTER'")
    assert response.to.tag == "t1" and response.top_via.branch == "z9hG4bK776asdhds"
    no_via = b"\r\n".join(line for line in bad.split(b"\r\n") if not line.startswith(b"Via"))
    assert try_build_400(no_via, info.value) is None
    ack = bad.replace(b"REGISTER sip:", b"ACK sip:", 1)
    assert try_build_400(ack, info.value) is None
    assert try_build_400(b"SIP/2.0 200 OK\r\n\r\n", info.value) is None
    unsupported = SipUnsupportedSchemeError("http")
    answer = try_build_400(REGISTER, unsupported, to_tag="t")
    assert answer is not None and answer.startswith(b"SIP/2.0 416 ")


def test_received_and_rport() -> None:
    """ACC-12 / RFC 3581: replies go back to where the request came from."""
    via = parse_via("SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport")
    apply_received_rport(via, "203.0.113.7", 40123)
    assert (via.received, via.rport) == ("203.0.113.7", 40123)
    assert (
        str(via) == "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport=40123;received=203.0.113.7"
    )
    same = Via("192.0.2.10", 5060, params={"branch": "z9hG4bK2"})
    apply_received_rport(same, "192.0.2.10", 5060)
    assert same.received is None
    moved = Via("pc.example.com", params={"branch": "z9hG4bK3"})
    apply_received_rport(moved, "2001:db8::1", 5060)
    assert moved.received == "2001:db8::1" and moved.rport is None
    msg = parse_message(REGISTER)
    msg.set_top_via(apply_received_rport(msg.top_via, "203.0.113.7", 40123))
    assert parse_message(msg.serialize()).top_via.rport == 40123


def test_ids_use_injected_randomness() -> None:
    fixed = bytes(range(32))
    assert generate_branch(lambda n: fixed[:n]) == "z9hG4bK" + fixed[:12].hex()
    assert generate_tag(lambda n: fixed[:n]) == fixed[:8].hex()
    assert generate_branch() != generate_branch()


def test_building_messages_from_scratch() -> None:
    request = Request("OPTIONS", SipUri(host="example.com", user="bob"))
    request.headers.add("Via", str(Via("10.0.0.1", 5060, params={"branch": generate_branch()})))
    request.headers.add("CSeq", "1 OPTIONS")
    request.uri.params["transport"] = "tcp"
    data = request.serialize()
    assert data.startswith(b"OPTIONS sip:bob@example.com;transport=tcp SIP/2.0\r\n")
    assert data.endswith(b"Content-Length: 0\r\n\r\n")
    ringing = parse_message(Response(180).serialize())
    assert isinstance(ringing, Response) and ringing.reason == "Ringing"


def test_reading_the_request_uri_keeps_its_wire_spelling() -> None:
    data = REGISTER.replace(b"sip:pbx.example.com SIP", b"sip:PBX.example.com;Transport=UDP SIP")
    msg = parse_message(data)
    assert isinstance(msg, Request)
    assert msg.uri.transport == "udp"
    assert msg.serialize() == data
    msg.uri.params["lr"] = None
    assert msg.serialize().startswith(b"REGISTER sip:PBX.example.com;transport=UDP;lr SIP/2.0")

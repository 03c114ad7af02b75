"""Sans-IO helpers of the edge proxy: branches, routes, destinations, retransmissions."""

from __future__ import annotations

import pytest

from centralino.sip import Request, SipUri, parse_message, parse_via
from centralino.sip.transport import TransportKind
from centralino_registrar.extract import credentials, parse_digest, register_facts
from centralino_registrar.flowtoken import FlowTokenError, decode_flow, encode_flow
from centralino_registrar.proxy import (
    Hop,
    TooManyHopsError,
    decrement_max_forwards,
    derived_branch,
    pop_our_routes,
    push_via,
    record_route,
    response_destination,
    strip_identity,
)
from centralino_registrar.retransmissions import RetransmissionFilter, State

INVITE = (
    b"INVITE sip:201@pbx SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKabc;rport\r\n"
    b"Max-Forwards: 1\r\n"
    b"From: <sip:200@pbx>;tag=1\r\nTo: <sip:201@pbx>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
    b"X-Centralino-Account: 999\r\nx-centralino-tenant: evil\r\n"
    b"Contact: <sip:200@10.0.0.5:5060>;expires=60\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def invite() -> Request:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    return message


def test_invite_cancel_and_ack_share_the_derived_branch() -> None:
    via = parse_via("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKabc")
    other = parse_via("SIP/2.0/UDP 10.0.0.6:5060;branch=z9hG4bKabc")
    a = derived_branch(via, "c1", "i")
    assert a == derived_branch(via, "c1", "i")  # CANCEL/ACK carry the same upstream branch
    assert a.startswith("z9hG4bK")
    assert a != derived_branch(other, "c1", "i")  # another client's transaction
    assert a != derived_branch(via, "c1", "e")  # the other direction


def test_identity_headers_are_stripped_whatever_their_case() -> None:
    request = invite()
    strip_identity(request)
    assert not [n for n, _ in request.headers if n.lower().startswith("x-centralino-")]


def test_max_forwards_decrements_then_refuses() -> None:
    request = invite()
    decrement_max_forwards(request)
    assert request.max_forwards == 0
    with pytest.raises(TooManyHopsError):
        decrement_max_forwards(request)


def test_double_record_route_and_popping_our_routes() -> None:
    request = invite()
    internal = Hop(TransportKind.UDP, "127.0.0.9", 5080)
    public = Hop(TransportKind.TCP, "203.0.113.1", 5060)
    record_route(request, internal.uri("i"), public.uri("e", cxf="dG9rZW4"))
    rr = request.record_routes
    assert [str(r.uri) for r in rr] == [
        "sip:127.0.0.9:5080;lr;cx=i",
        "sip:203.0.113.1:5060;transport=tcp;lr;cx=e;cxf=dG9rZW4",
    ]
    for r in rr:
        request.headers.add("Route", str(r))
    request.headers.add("Route", "<sip:proxy.example.com;lr>")
    popped = pop_our_routes(request, {"127.0.0.9", "203.0.113.1"})
    assert [u.params.get("cx") for u in popped] == ["i", "e"]
    assert [str(r.uri) for r in request.routes] == ["sip:proxy.example.com;lr"]


def test_a_lookalike_route_without_our_marker_is_not_popped() -> None:
    request = invite()
    request.headers.add("Route", "<sip:127.0.0.9:5080;lr>")
    assert pop_our_routes(request, {"127.0.0.9"}) == []


def test_push_via_goes_on_top() -> None:
    request = invite()
    push_via(request, Hop(TransportKind.UDP, "127.0.0.9", 5080), "z9hG4bKcxX", "i", cxf="abc")
    assert [v.host for v in request.vias] == ["127.0.0.9", "10.0.0.5"]
    assert request.top_via.params["cxf"] == "abc"


@pytest.mark.parametrize(
    ("via", "source", "nat", "expected"),
    [
        ("SIP/2.0/UDP 10.0.0.5:5070;rport=40000;received=1.2.3.4", None, False, ("1.2.3.4", 40000)),
        ("SIP/2.0/UDP 10.0.0.5:5070;received=1.2.3.4", None, False, ("1.2.3.4", 5070)),
        ("SIP/2.0/UDP 10.0.0.5", None, False, ("10.0.0.5", 5060)),
        # ACC-12: NAT on, the observed source wins whatever Via says
        (
            "SIP/2.0/UDP 10.0.0.5:5070;received=1.2.3.4",
            ("1.2.3.4", 61000),
            True,
            ("1.2.3.4", 61000),
        ),
    ],
)
def test_response_destination(
    via: str, source: tuple[str, int] | None, nat: bool, expected: tuple[str, int]
) -> None:
    assert response_destination(parse_via(via), source, nat) == expected


def test_flow_tokens_round_trip_and_garbage_is_an_error() -> None:
    for flow_id in ("udp|127.0.0.1|5060|10.0.0.1|5062", "tcp-ab12cd34-17", "ws-x-1"):
        token = encode_flow(flow_id)
        assert SipUri.parse(f"sip:h;cxf={token}").params["cxf"] == token  # a valid token
        assert decode_flow(token) == flow_id
    with pytest.raises(FlowTokenError):
        decode_flow("%%%")


def test_retransmissions_are_recognised_answered_and_forgotten() -> None:
    f = RetransmissionFilter(max_entries=3, lifetime=32)
    key = ("z9hG4bK1", "10.0.0.5:5060", "REGISTER")
    assert f.check(key, 0.0) is None
    entry = f.check(key, 0.1)
    assert entry is not None and entry.state is State.IN_PROGRESS
    f.answered(key, b"SIP/2.0 200 OK", ("10.0.0.5", 5060))
    entry = f.check(key, 1.0)
    assert entry is not None and entry.state is State.ANSWERED and entry.data
    assert f.check(key, 40.0) is None  # expired: a new transaction
    f.forget_unanswered(key)
    assert f.check(key, 41.0) is None
    for i in range(10):
        f.check((f"b{i}", "h", "REGISTER"), 42.0)
    assert len(f) <= 4  # bounded


def test_register_facts_and_credentials() -> None:
    message = parse_message(
        INVITE.replace(b"INVITE sip", b"REGISTER sip").replace(b"1 INVITE", b"1 REGISTER")
    )
    assert isinstance(message, Request)
    facts = register_facts(message)
    assert facts.contacts[0].uri == "sip:200@10.0.0.5:5060" and facts.contacts[0].expires == 60
    assert credentials(message, "r", "Authorization") is None
    message.headers.add("Authorization", "Basic dXNlcjpwYXNz")
    message.headers.add(
        "Authorization",
        'Digest username="200", realm="other", nonce="n", uri="sip:pbx", response="x"',
    )
    message.headers.add(
        "Authorization", 'Digest username="200", realm="r", nonce="n", uri="sip:pbx", response="y"'
    )
    creds = credentials(message, "r", "Authorization")
    assert creds is not None and creds.response == "y"
    assert parse_digest('Digest username="a"', "Authorization") is None  # incomplete

"""RFC 4475 torture messages (FEAT-01: SIP 2.0 signalling) as binary fixtures.

Each ``torture/<name>.dat`` holds the RFC's bytes (CRLF line ends, its hex notation
expanded). A message is *accepted* when ``parse_message`` and ``validate()`` both pass,
and rejected with the error type, status hint and reason named in the table otherwise.

Where we knowingly differ from the RFC's "invalid" or "respond with X":
- §3.1.2.12 ``baddate``: accepted. The core never interprets Date, so a non-GMT zone
  cannot mislead it; the RFC allows this liberal reading.
- §3.1.2.16 ``badvers``: parses, then ``validate()`` asks for 505 (as the RFC says).
- §3.1.2.17/18 ``mismatch01/02``: parse, then ``validate()`` asks for 400. For
  ``mismatch02`` the RFC prefers 501 (unknown method first); the router checks the
  method before calling ``validate()``.
- §3.1.1.11 ``mpart01`` is not included: its body is binary DER that the RFC prints in
  a form we could not reproduce byte for byte; multipart bodies are opaque bytes to the
  core anyway (covered by the round-trip test with a binary body).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from centralino.sip import (
    Request,
    Response,
    SipError,
    SipHeaderError,
    SipParseError,
    SipUnsupportedSchemeError,
    parse_message,
)

TORTURE = Path(__file__).parent / "torture"

# name -> (RFC 4475 section, expected error type or None, status hint, reason fragment)
VECTORS: dict[str, tuple[str, type[SipError] | None, int, str]] = {
    # 3.1.1 valid messages
    "wsinv": ("3.1.1.1", None, 0, ""),
    "intmeth": ("3.1.1.2", None, 0, ""),
    "esc01": ("3.1.1.3", None, 0, ""),
    "escnull": ("3.1.1.4", None, 0, ""),
    "esc02": ("3.1.1.5", None, 0, ""),
    "lwsdisp": ("3.1.1.6", None, 0, ""),
    "longreq": ("3.1.1.7", None, 0, ""),
    "dblreq": ("3.1.1.8", None, 0, ""),
    "semiuri": ("3.1.1.9", None, 0, ""),
    "transports": ("3.1.1.10", None, 0, ""),
    "unreason": ("3.1.1.12", None, 0, ""),
    "noreason": ("3.1.1.13", None, 0, ""),
    # 3.1.2 invalid messages
    "badinv01": ("3.1.2.1", SipHeaderError, 400, "Bad Via header"),
    "clerr": ("3.1.2.2", SipHeaderError, 400, "Bad Content-Length header"),
    "ncl": ("3.1.2.3", SipHeaderError, 400, "Bad Content-Length header"),
    "scalar02": ("3.1.2.4", SipHeaderError, 400, "Bad CSeq header"),
    "scalarlg": ("3.1.2.5", SipHeaderError, 400, "Bad CSeq header"),
    "quotbal": ("3.1.2.6", SipHeaderError, 400, "Bad To header"),
    "ltgtruri": ("3.1.2.7", SipParseError, 400, "Bad Request-URI"),
    "lwsruri": ("3.1.2.8", SipParseError, 400, "Bad Request-Line"),
    "lwsstart": ("3.1.2.9", SipParseError, 400, "Bad Request-Line"),
    "trws": ("3.1.2.10", SipParseError, 400, "Bad Request-Line"),
    "escruri": ("3.1.2.11", SipParseError, 400, "Headers in the Request-URI"),
    "baddate": ("3.1.2.12", None, 0, ""),
    "regbadct": ("3.1.2.13", SipHeaderError, 400, "Bad Contact header"),
    "badaspec": ("3.1.2.14", SipHeaderError, 400, "Bad To header"),
    "baddn": ("3.1.2.15", SipParseError, 400, "Missing empty line"),
    "badvers": ("3.1.2.16", SipParseError, 505, "Version SIP/7.0 not supported"),
    "mismatch01": ("3.1.2.17", SipParseError, 400, "CSeq method does not match"),
    "mismatch02": ("3.1.2.18", SipParseError, 400, "CSeq method does not match"),
    "bigcode": ("3.1.2.19", SipParseError, 400, "Bad Status-Line"),
    # 3.3 application-layer semantics: parse_message must not fail; validate() answers.
    "insuf": ("3.3.1", SipHeaderError, 400, "Bad Call-ID header: missing"),
    "unkscm": ("3.3.2", SipUnsupportedSchemeError, 416, "Unsupported URI scheme"),
    "regaut01": ("3.3.7", None, 0, ""),
    "mcl01": ("3.3.9", SipHeaderError, 400, "conflicting values"),
    "zeromf": ("3.3.11", None, 0, ""),
    "cparam01": ("3.3.12", None, 0, ""),
    "cparam02": ("3.3.13", None, 0, ""),
    "regescrt": ("3.3.14", None, 0, ""),
}

# 3.3 vectors the parser itself must accept (only validate() may object).
MUST_PARSE = {"insuf", "unkscm", "mismatch01", "mismatch02", "badvers", "escruri"}


def load(name: str) -> bytes:
    return (TORTURE / f"{name}.dat").read_bytes()


def parse_and_validate(data: bytes) -> Request | Response:
    message = parse_message(data)
    message.validate()
    return message


def test_every_fixture_has_an_expectation() -> None:
    assert {p.stem for p in TORTURE.glob("*.dat")} == set(VECTORS)


@pytest.mark.parametrize("name", sorted(VECTORS), ids=lambda n: f"{VECTORS[n][0]}-{n}")
def test_rfc4475_vector(name: str) -> None:
    """FEAT-01: each RFC 4475 vector is accepted or rejected with a named error."""
    _, error_type, status, reason = VECTORS[name]
    data = load(name)
    if name in MUST_PARSE:
        parse_message(data)
    if error_type is None:
        message = parse_and_validate(data)
        again = parse_and_validate(message.serialize())
        assert again.serialize() == message.serialize()
        return
    with pytest.raises(error_type) as info:
        parse_and_validate(data)
    assert info.value.status_hint == status
    assert reason in info.value.reason


def test_wsinv_values() -> None:
    """3.1.1.1: SWS around ':' ';' '=' '/' and folded lines parse to the right values."""
    msg = parse_and_validate(load("wsinv"))
    assert isinstance(msg, Request)
    assert msg.to.tag == "1918181833n"
    assert msg.from_.tag == "98asjd8"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.max_forwards == 68
    assert (msg.cseq.seq, msg.cseq.method) == (9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    contact = msg.contacts[0]
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.routes[0].uri.lr
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("Subject") == ""
    assert len(msg.body) == 150


def test_intmeth_values() -> None:
    """3.1.1.2: extension method kept verbatim, escaped control characters in quotes."""
    msg = parse_and_validate(load("intmeth"))
    assert isinstance(msg, Request)
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.method == method == msg.cseq.method
    assert msg.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_escapes_stay_escaped() -> None:
    """3.1.1.3/4: %-escapes are kept as received and never decoded into raw bytes."""
    esc01 = parse_and_validate(load("esc01"))
    assert isinstance(esc01, Request)
    assert esc01.uri.user == "sips%3Auser%40example.com"
    assert esc01.uri.host == "example.net"
    assert esc01.serialize().startswith(b"INVITE sip:sips%3Auser%40example.com@example.net ")
    escnull = parse_and_validate(load("escnull"))
    assert b"\x00" not in escnull.serialize()
    assert [c.uri.user for c in escnull.contacts] == ["%00", "%00%00"]


def test_esc02_is_not_register() -> None:
    msg = parse_and_validate(load("esc02"))
    assert isinstance(msg, Request)
    assert msg.method == "RE%47IST%45R"
    # "C%6Fntact" is an unknown header, not a Contact.
    assert len(msg.contacts) == 2


def test_lwsdisp_and_semiuri_and_transports() -> None:
    lwsdisp = parse_and_validate(load("lwsdisp"))
    assert lwsdisp.from_.display_name == "caller"
    semiuri = parse_and_validate(load("semiuri"))
    assert isinstance(semiuri, Request)
    assert (semiuri.uri.user, semiuri.uri.host, semiuri.uri.params) == (
        "user;par=u%40example.net",
        "example.com",
        {},
    )
    assert len(semiuri.headers.values("Accept")) == 6
    transports = parse_and_validate(load("transports"))
    assert [v.transport for v in transports.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_longreq_and_dblreq() -> None:
    longreq = parse_and_validate(load("longreq"))
    assert len(longreq.vias) == 34
    assert longreq.vias[-1].received == "192.0.2.5"
    dblreq = parse_and_validate(load("dblreq"))
    assert isinstance(dblreq, Request)
    assert dblreq.method == "REGISTER"
    assert dblreq.body == b""  # §18.3: the glued INVITE is discarded
    assert b"INVITE" not in dblreq.serialize()


def test_status_lines() -> None:
    unreason = parse_and_validate(load("unreason"))
    assert isinstance(unreason, Response)
    assert unreason.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    noreason = parse_and_validate(load("noreason"))
    assert isinstance(noreason, Response)
    assert (noreason.status, noreason.reason) == (100, "")
    assert noreason.serialize().startswith(b"SIP/2.0 100 \r\n")

"""SDP parse/serialise (RFC 4566): round trips over captured bodies, errors on garbage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralino.sdp import (
    Attribute,
    CryptoAttribute,
    SdpError,
    SdpParseError,
    SessionDescription,
    crypto_attributes,
    fmtps,
    ptime,
    rtcp_address,
    rtpmaps,
)

FIXTURES = Path(__file__).parent / "fixtures"
BODIES = sorted(FIXTURES.glob("*.sdp"))


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.stem)
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    assert SessionDescription.parse(data).serialize() == data


def test_unknown_lines_and_attributes_survive() -> None:
    sdp = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=x\r\ni=info\r\nu=http://example.com\r\n"
        b"c=IN IP4 192.0.2.1\r\nt=0 0\r\nk=prompt\r\na=group:BUNDLE 0\r\n"
        b"m=audio 1 RTP/AVP 0\r\ni=media info\r\na=x-unknown:42\r\na=flag\r\n"
    )
    assert [(o.type, o.value) for o in sdp.other_lines] == [
        ("i", "info"),
        ("u", "http://example.com"),
        ("k", "prompt"),
    ]
    audio = sdp.media[0]
    assert audio.attributes == (Attribute("x-unknown", "42"), Attribute("flag"))
    text = sdp.to_text()
    assert "i=media info\r\n" in text and "a=x-unknown:42\r\n" in text
    assert SessionDescription.parse(text) == sdp


def test_bare_lf_and_missing_s_t_are_tolerated() -> None:
    sdp = SessionDescription.parse("v=0\no=- 1 1 IN IP4 192.0.2.1\nm=audio 5 RTP/AVP 8\n")
    assert sdp.session_name == "-" and sdp.timing == ("0 0",)
    assert sdp.media[0].formats == ("8",)


def test_typed_views_of_linphone_offer() -> None:
    sdp = SessionDescription.parse((FIXTURES / "linphone_srtp_video_offer.sdp").read_bytes())
    audio, video = sdp.media
    assert rtpmaps(audio)[96].encoding == "opus" and rtpmaps(audio)[96].channels == 2
    assert fmtps(audio)["18"] == "annexb=yes"
    cryptos = crypto_attributes(audio)
    assert [(c.tag, c.suite) for c in cryptos] == [
        (1, "AES_CM_128_HMAC_SHA1_80"),
        (2, "AES_CM_128_HMAC_SHA1_32"),
    ]
    assert cryptos[0].lifetime == "2^20" and cryptos[0].mki == (1, 4)
    assert len(cryptos[0].key_salt) == 30
    assert video.attribute_values("rtcp-fb") == ["* nack pli", "* ccm fir"]


def test_crypto_key_never_in_repr_ACC_17() -> None:
    """ACC-17: keys travel in SDP but must not leak into logs through repr."""
    c = CryptoAttribute.generate(1, "AES_CM_128_HMAC_SHA1_80", random_bytes=lambda n: b"K" * n)
    encoded = c.attribute().value or ""
    assert "S0tLS0" in encoded  # base64 of b"KKK..." is in the SDP
    assert "S0tLS0" not in repr(c) and "KKKK" not in repr(c)
    assert CryptoAttribute.parse(encoded) == c


def test_rtcp_and_ptime() -> None:
    sdp = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\na=rtcp:5003 IN IP4 192.0.2.9\r\na=ptime:30.0\r\n"
    )
    m = sdp.media[0]
    assert rtcp_address(m) is not None
    assert (rtcp_address(m).port, rtcp_address(m).address) == (5003, "192.0.2.9")  # type: ignore[union-attr]
    assert ptime(m) == 30


def test_direction_editing() -> None:
    sdp = SessionDescription.parse((FIXTURES / "baresip_offer.sdp").read_bytes())
    held = sdp.with_media([sdp.media[0].with_direction("sendonly")])
    assert held.media[0].direction == "sendonly"
    assert held.media[0].attributes.count(Attribute("sendrecv")) == 0
    assert sdp.direction_for(replace(sdp.media[0], attributes=())) == "sendrecv"


BAD = [
    (b"", "missing v="),
    (b"o=- 1 1 IN IP4 a\r\n", "must start with v="),
    (b"v=1\r\no=- 1 1 IN IP4 a\r\n", "unsupported SDP version"),
    (b"v=0\r\n", "missing o="),
    (b"v=0\r\no=- 1 x IN IP4 a\r\n", "bad o="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IPX a\r\n", "bad c="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio 99999 RTP/AVP 0\r\n", "bad port"),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nm=audio\r\n", "bad m="),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nnot an sdp line\r\n", "not a <type>=<value>"),
    (b"v=0\r\no=- 1 1 IN IP4 a\r\nb=AS\r\n", "bad b="),
    (b"v=0\r\xff\n", "not UTF-8"),
    (b"v=0\r\n" + b"a=x\r\n" * 20000, "exceeds"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_garbage_gets_a_specific_error(data: bytes, message: str) -> None:
    with pytest.raises(SdpParseError, match=message) as info:
        SessionDescription.parse(data)
    assert info.value.status_hint == 400


@pytest.mark.parametrize(
    "value",
    ["x AES_CM_128_HMAC_SHA1_80 inline:AAAA", "1 AES_CM_128_HMAC_SHA1_80 inline:!!!", "1 S x"],
)
def test_bad_crypto_does_not_echo_the_key(value: str) -> None:
    with pytest.raises(SdpParseError) as info:
        CryptoAttribute.parse(value)
    assert "AAAA" not in str(info.value)


def test_crypto_wrong_key_length() -> None:
    with pytest.raises(SdpParseError, match="needs 30"):
        CryptoAttribute.parse("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parser_raises_only_sdp_errors(data: bytes) -> None:
    try:
        sdp = SessionDescription.parse(b"v=0\r\no=- 1 1 IN IP4 a\r\n" + data)
    except SdpError:
        return
    # Anything that parses must serialise and re-parse to the same model.
    assert SessionDescription.parse(sdp.serialize()) == sdp

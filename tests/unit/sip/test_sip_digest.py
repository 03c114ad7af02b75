"""Digest authentication (ACC-01, ACC-02, REG-02): RFC 7616 vectors, nonces, replays."""

from __future__ import annotations

import pytest

from centralino.sip import (
    DigestChallenger,
    DigestStatus,
    SipHeaderError,
    build_authorization,
    ha1,
    parse_authorization,
    parse_challenge,
)
from centralino.sip.digest import DigestChallenge

SECRET = b"0123456789abcdef0123456789abcdef"
REALM = "pbx.example.com"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_vectors(algorithm: str, expected: str) -> None:
    challenge = DigestChallenge(
        realm="http-auth@example.org",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        algorithm=algorithm,
        qop=("auth", "auth-int"),
        opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    )
    value = build_authorization(
        str(challenge),
        method="GET",
        uri="/dir/index.html",
        username="Mufasa",
        password="Circle of Life",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    credentials = parse_authorization(value)
    assert credentials.response == expected
    assert (credentials.qop, credentials.nc, credentials.algorithm) == (
        "auth",
        "00000001",
        algorithm,
    )
    assert credentials.opaque == challenge.opaque


def answer(
    challenger: DigestChallenger,
    now: float,
    *,
    algorithm: str = "SHA-256",
    password: str = "s3cret",
    nc: int = 1,
    nonce_time: float | None = None,
) -> str:
    challenges = challenger.challenges(now if nonce_time is None else nonce_time)
    chosen = next(c for c in challenges if f"algorithm={algorithm}" in c)
    return build_authorization(
        chosen,
        method="REGISTER",
        uri="sip:pbx.example.com",
        username="201",
        password=password,
        cnonce="c0ffee",
        nc=nc,
    )


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_right_password_is_accepted_wrong_one_refused(algorithm: str) -> None:
    """ACC-02: wrong credentials are not accepted; both RFC 8760 algorithms work."""
    challenger = DigestChallenger(SECRET, REALM)
    stored = ha1("201", REALM, "s3cret", algorithm)
    good = parse_authorization(answer(challenger, 100.0, algorithm=algorithm))
    verdict = challenger.verify(good, method="REGISTER", ha1_value=stored, now=101.0)
    assert verdict.status is DigestStatus.OK and verdict.ok
    bad = parse_authorization(answer(challenger, 100.0, algorithm=algorithm, password="nope"))
    verdict = challenger.verify(bad, method="REGISTER", ha1_value=stored, now=101.0)
    assert verdict.status is DigestStatus.FAILED and "password" in verdict.reason


def test_challenges_offer_sha256_then_md5_with_one_nonce() -> None:
    challenger = DigestChallenger(SECRET, REALM, random_bytes=lambda n: b"\x01" * n)
    values = challenger.challenges(5.0)
    parsed = [parse_challenge(v) for v in values]
    assert [p.algorithm for p in parsed] == ["SHA-256", "MD5"]
    assert parsed[0].nonce == parsed[1].nonce and parsed[0].qop == ("auth",)
    assert not parsed[0].stale
    assert all(parse_challenge(v).stale for v in challenger.challenges(5.0, stale=True))


def test_replayed_nonce_count_is_refused() -> None:
    """REG-02: every REGISTER authenticates again; a captured one cannot be replayed."""
    challenger = DigestChallenger(SECRET, REALM)
    stored = ha1("201", REALM, "s3cret", "SHA-256")
    first = parse_authorization(answer(challenger, 10.0, nc=1))
    assert challenger.verify(first, method="REGISTER", ha1_value=stored, now=11.0).ok
    replay = challenger.verify(first, method="REGISTER", ha1_value=stored, now=12.0)
    assert replay.status is DigestStatus.FAILED and "replayed" in replay.reason
    # The phone's next request on the same nonce counts up and is accepted.
    second = parse_authorization(
        build_authorization(
            DigestChallenge(REALM, first.nonce, "SHA-256", ("auth",)),
            method="REGISTER",
            uri="sip:pbx.example.com",
            username="201",
            password="s3cret",
            cnonce="c0ffee",
            nc=2,
        )
    )
    assert challenger.verify(second, method="REGISTER", ha1_value=stored, now=13.0).ok


def test_expired_nonce_is_stale_only_with_the_right_password() -> None:
    challenger = DigestChallenger(SECRET, REALM, nonce_ttl=30.0)
    stored = ha1("201", REALM, "s3cret", "SHA-256")
    old = parse_authorization(answer(challenger, 100.0, nonce_time=0.0))
    assert challenger.verify(old, method="REGISTER", ha1_value=stored, now=100.0).status is (
        DigestStatus.STALE
    )
    wrong = parse_authorization(answer(challenger, 100.0, nonce_time=0.0, password="x"))
    assert challenger.verify(wrong, method="REGISTER", ha1_value=stored, now=100.0).status is (
        DigestStatus.FAILED
    )


def test_forged_nonce_and_foreign_realm_are_refused() -> None:
    challenger = DigestChallenger(SECRET, REALM)
    other = DigestChallenger(b"another-secret-of-16-bytes", REALM)
    stored = ha1("201", REALM, "s3cret", "SHA-256")
    forged = parse_authorization(answer(other, 1.0))
    verdict = challenger.verify(forged, method="REGISTER", ha1_value=stored, now=1.0)
    assert verdict.status is DigestStatus.FAILED and "nonce" in verdict.reason
    garbage = parse_authorization(answer(challenger, 1.0).replace('nonce="', 'nonce="!!', 1))
    assert not challenger.verify(garbage, method="REGISTER", ha1_value=stored, now=1.0).ok
    elsewhere = DigestChallenger(SECRET, "other.example.com")
    foreign = parse_authorization(answer(elsewhere, 1.0))
    assert challenger.verify(foreign, method="REGISTER", ha1_value=stored, now=1.0).reason == (
        "wrong realm"
    )


def test_nonce_table_is_bounded_and_forgotten_nonces_turn_stale() -> None:
    challenger = DigestChallenger(SECRET, REALM, max_tracked_nonces=4, nonce_ttl=1000.0)
    stored = ha1("201", REALM, "s3cret", "SHA-256")
    creds = [parse_authorization(answer(challenger, 0.0, nonce_time=float(i))) for i in range(8)]
    for c in creds:
        assert challenger.verify(c, method="REGISTER", ha1_value=stored, now=10.0).ok
    assert len(challenger._counts) <= 4
    # Replaying an evicted nonce cannot succeed: it is answered stale instead.
    verdict = challenger.verify(creds[0], method="REGISTER", ha1_value=stored, now=10.0)
    assert verdict.status is DigestStatus.STALE


def test_malformed_credentials_raise_header_errors() -> None:
    with pytest.raises(SipHeaderError, match="missing"):
        parse_authorization('Digest username="a", realm="r"')
    with pytest.raises(SipHeaderError, match="unsupported scheme"):
        parse_authorization("NoOneKnowsThisScheme opaque-data=here")
    with pytest.raises(SipHeaderError, match="qop without nc"):
        parse_authorization(
            'Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth'
        )
    with pytest.raises(ValueError, match="at least 16 bytes"):
        DigestChallenger(b"short", REALM)

"""Trunk registration UAC: digest challenge, refresh at half expiry, back-off."""

from __future__ import annotations

from centralino.sip import (
    DigestChallenger,
    DigestStatus,
    Request,
    Response,
    ha1,
    make_response,
    parse_authorization,
    parse_message,
)
from centralino_router.features.trunk_registration import (
    RETRY_BASE_SECONDS,
    TrunkAccount,
    TrunkRegistration,
    TrunkState,
)

ACCOUNT = TrunkAccount(
    registrar="sip:provider.test",
    aor="sip:0612345@provider.test",
    username="0612345",
    password="s3cret",
    contact="sip:0612345@127.0.0.1:5070",
    via_sent_by="127.0.0.1:5070",
    expires=600,
    outbound_proxy="sip:proxy.provider.test",
)


class Provider:
    """The registrar side, with the SIP core's real digest verifier."""

    def __init__(self, password: str = "s3cret", grant: int = 300) -> None:
        self.challenger = DigestChallenger(b"0123456789abcdef", "provider.test")
        self.ha1 = {
            alg: ha1("0612345", "provider.test", password, alg) for alg in ("MD5", "SHA-256")
        }
        self.grant = grant

    def answer(self, request: Request, now: float) -> Response:
        # round-trip through the wire format: what we send must parse
        parsed = parse_message(request.serialize())
        assert isinstance(parsed, Request)
        parsed.validate()
        value = parsed.headers.get("Authorization")
        if value is None:
            return self._challenge(parsed, now)
        credentials = parse_authorization(value)
        verdict = self.challenger.verify(
            credentials,
            method="REGISTER",
            ha1_value=self.ha1[credentials.algorithm.upper()],
            now=now,
            request_uri=parsed.uri_text,
        )
        if verdict.status is not DigestStatus.OK:
            return self._challenge(parsed, now)
        response = make_response(parsed, 200)
        response.headers.add("Contact", f"<{ACCOUNT.contact}>;expires={self.grant}")
        return response

    def _challenge(self, request: Request, now: float) -> Response:
        response = make_response(request, 401)
        for value in self.challenger.challenges(now):
            response.headers.add("WWW-Authenticate", value)
        return response


def _register(reg: TrunkRegistration, provider: Provider, first: Request, now: float) -> int:
    """Drive one REGISTER exchange to its end; returns the number of requests sent."""
    request: Request | None = first
    sent = 0
    while request is not None:
        sent += 1
        assert sent < 5, "registration loops"
        request = reg.receive(provider.answer(request, now), now)
    return sent


def test_registers_with_digest_and_refreshes_at_half_expiry() -> None:
    reg = TrunkRegistration(ACCOUNT)
    provider = Provider(grant=300)
    first = reg.start(100.0)
    assert first.headers.get("Route") == "<sip:proxy.provider.test;lr>"
    assert first.headers.get("Expires") == "600"
    assert _register(reg, provider, first, 100.0) == 2
    assert reg.state is TrunkState.REGISTERED
    assert reg.registered_until == 400.0
    assert reg.get_timer() == 250.0
    assert reg.handle_timer(249.0) is None
    refresh = reg.handle_timer(250.0)
    assert refresh is not None
    assert refresh.call_id == first.call_id and refresh.cseq.seq > first.cseq.seq
    assert _register(reg, provider, refresh, 250.0) == 2
    assert reg.registered_until == 550.0


def test_wrong_password_fails_and_backs_off_exponentially() -> None:
    reg = TrunkRegistration(ACCOUNT)
    provider = Provider(password="other")
    assert _register(reg, provider, reg.start(0.0), 0.0) == 2
    assert reg.state is TrunkState.FAILED
    assert "credentials rejected" in reg.last_error
    assert reg.get_timer() == RETRY_BASE_SECONDS
    retry = reg.handle_timer(RETRY_BASE_SECONDS)
    assert retry is not None
    _register(reg, provider, retry, RETRY_BASE_SECONDS)
    assert reg.get_timer() == RETRY_BASE_SECONDS + 2 * RETRY_BASE_SECONDS


def test_timeout_and_retry_after() -> None:
    reg = TrunkRegistration(ACCOUNT)
    reg.start(0.0)
    reg.transaction_timeout(32.0)
    assert reg.state is TrunkState.FAILED and reg.get_timer() == 32.0 + RETRY_BASE_SECONDS
    request = reg.handle_timer(62.0)
    assert request is not None
    busy = make_response(request, 503)
    busy.headers.add("Retry-After", "120")
    assert reg.receive(busy, 63.0) is None
    assert reg.get_timer() == 183.0


def test_interval_too_brief_raises_expires() -> None:
    reg = TrunkRegistration(ACCOUNT)
    request = reg.start(0.0)
    brief = make_response(request, 423)
    brief.headers.add("Min-Expires", "1200")
    again = reg.receive(brief, 0.0)
    assert again is not None and again.headers.get("Expires") == "1200"


def test_stale_and_provisional_responses_are_ignored() -> None:
    reg = TrunkRegistration(ACCOUNT)
    old = reg.start(0.0)
    assert reg.receive(make_response(old, 100), 0.0) is None
    reg.transaction_timeout(1.0)
    reg.handle_timer(100.0)
    assert reg.receive(make_response(old, 200), 100.0) is None  # answers an older CSeq
    assert reg.state is TrunkState.REGISTERING


def test_challenge_without_digest_fails_cleanly() -> None:
    reg = TrunkRegistration(ACCOUNT)
    response = make_response(reg.start(0.0), 407)
    response.headers.add("Proxy-Authenticate", "Basic realm=x")
    assert reg.receive(response, 0.0) is None
    assert reg.state is TrunkState.FAILED

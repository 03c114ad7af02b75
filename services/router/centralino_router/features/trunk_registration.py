"""Registration of the PBX at a SIP trunk provider: a sans-IO UAC state machine.

Shape like the SIP core's transactions: ``start(now)`` and ``handle_timer(now)`` return a
REGISTER to send (or None), ``receive(response, now)`` consumes the final response of the
last REGISTER and may return the next one (a digest answer or a 423 retry at once),
``transaction_timeout(now)`` reports that the transaction layer gave up, ``get_timer()``
says when ``handle_timer`` is due. Retransmissions are the transaction layer's job.

Refresh happens at half the granted expiry. Failures back off exponentially from
``RETRY_BASE_SECONDS`` to ``RETRY_MAX_SECONDS``; a Retry-After from the provider wins.
A second challenge with the same nonce after answering it means wrong credentials.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from centralino.sip import (
    Request,
    Response,
    SipError,
    build_authorization,
    generate_branch,
    generate_call_id,
    generate_tag,
    parse_challenge,
)
from centralino.sip.ids import RandomBytes

RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 1800.0


class TrunkState(StrEnum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"  # waiting for the back-off retry


@dataclass(frozen=True, slots=True)
class TrunkAccount:
    registrar: str  # Request-URI, e.g. "sip:provider.example"
    aor: str  # e.g. "sip:0612345@provider.example"
    username: str
    password: str
    contact: str  # e.g. "sip:0612345@203.0.113.7:5060"
    via_sent_by: str  # host[:port] of our socket, for the Via header
    transport: str = "UDP"
    expires: int = 3600
    outbound_proxy: str | None = None  # loose route, e.g. "sip:proxy.provider.example"


class TrunkRegistration:
    def __init__(
        self, account: TrunkAccount, *, random_bytes: RandomBytes = secrets.token_bytes
    ) -> None:
        self.account = account
        self.state = TrunkState.IDLE
        self.registered_until = 0.0
        self.last_error = ""
        self._random = random_bytes
        self._call_id = generate_call_id(random_bytes=random_bytes)
        self._tag = generate_tag(random_bytes)
        self._cseq = 0
        self._expires = account.expires
        self._answered_nonce: str | None = None
        self._failures = 0
        self._timer: float | None = None
        self._stopping = False

    @property
    def call_id(self) -> str:
        return self._call_id

    def get_timer(self) -> float | None:
        return self._timer

    def start(self, now: float) -> Request:
        return self._register(now)

    def stop(self, now: float) -> Request:
        """Remove our binding (``Expires: 0``, RFC 3261 §10.2.2). Challenges are answered
        as for a registration; any final answer ends in IDLE with no retry."""
        self._stopping = True
        self._expires = 0
        return self._register(now)

    def handle_timer(self, now: float) -> Request | None:
        if self._timer is None or now < self._timer:
            return None
        return self._register(now)

    def transaction_timeout(self, now: float) -> None:
        self._fail(now, "no response from the registrar")

    def receive(self, response: Response, now: float) -> Request | None:
        try:
            cseq = response.cseq
        except SipError:
            return None
        if cseq.method != "REGISTER" or cseq.seq != self._cseq or response.status < 200:
            return None  # provisional or stale: the pending transaction decides
        if 200 <= response.status < 300:
            if self._stopping:
                self._stopped()
                return None
            self._registered(response, now)
            return None
        if response.status in (401, 407):
            return self._answer_challenge(response, now)
        if response.status == 423 and not self._stopping:
            min_expires = response.headers.get("Min-Expires")
            if min_expires is not None and min_expires.isdigit():
                self._expires = max(self._expires, int(min_expires))
                return self._register(now)
        retry_after = (response.headers.get("Retry-After") or "").split(";")[0].strip()
        delay = float(retry_after) if retry_after.isdigit() else None
        self._fail(now, f"{response.status} {response.reason}", delay)
        return None

    def _register(self, now: float, authorization: tuple[str, str] | None = None) -> Request:
        account = self.account
        self._cseq += 1
        self.state = TrunkState.REGISTERING
        self._timer = None
        headers = [
            (
                "Via",
                f"SIP/2.0/{account.transport} {account.via_sent_by}"
                f";branch={generate_branch(self._random)};rport",
            ),
            ("Max-Forwards", "70"),
            ("From", f"<{account.aor}>;tag={self._tag}"),
            ("To", f"<{account.aor}>"),
            ("Call-ID", self._call_id),
            ("CSeq", f"{self._cseq} REGISTER"),
            ("Contact", f"<{account.contact}>"),
            ("Expires", str(self._expires)),
        ]
        if account.outbound_proxy:
            headers.append(("Route", f"<{account.outbound_proxy};lr>"))
        if authorization is not None:
            headers.append(authorization)
        headers.append(("Content-Length", "0"))
        return Request("REGISTER", account.registrar, headers)

    def _answer_challenge(self, response: Response, now: float) -> Request | None:
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer = "Authorization" if response.status == 401 else "Proxy-Authorization"
        challenge = None
        for value in response.headers.get_all(header):
            try:
                candidate = parse_challenge(value, header)
            except SipError:
                continue
            if candidate.algorithm.upper() in {"MD5", "SHA-256"}:
                challenge = candidate
                break
        if challenge is None:
            self._fail(now, f"{response.status} without a usable digest challenge")
            return None
        if challenge.nonce == self._answered_nonce or (
            self._answered_nonce is not None and not challenge.stale
        ):
            self._answered_nonce = None
            self._fail(now, f"{response.status}: credentials rejected")
            return None
        self._answered_nonce = challenge.nonce
        value = build_authorization(
            challenge,
            method="REGISTER",
            uri=self.account.registrar,
            username=self.account.username,
            password=self.account.password,
            cnonce=self._random(8).hex(),
        )
        return self._register(now, (answer, value))

    def _registered(self, response: Response, now: float) -> None:
        granted = self._expires
        header_expires = response.headers.get("Expires")
        if header_expires is not None and header_expires.strip().isdigit():
            granted = int(header_expires)
        try:
            contacts = response.contacts
        except SipError:
            contacts = []
        for contact in contacts:
            value = contact.params.get("expires")
            if str(contact.uri) == self.account.contact and value and value.isdigit():
                granted = int(value)
        self._answered_nonce = None
        self._failures = 0
        self.last_error = ""
        if granted <= 0:
            self._fail(now, "registrar granted no expiry")
            return
        self.state = TrunkState.REGISTERED
        self.registered_until = now + granted
        self._timer = now + granted / 2

    def _stopped(self) -> None:
        self.state = TrunkState.IDLE
        self.registered_until = 0.0
        self._timer = None

    def _fail(self, now: float, reason: str, delay: float | None = None) -> None:
        if self._stopping:
            self.last_error = reason
            self._stopped()
            return
        self._failures += 1
        if delay is None:
            delay = min(RETRY_BASE_SECONDS * 2 ** (self._failures - 1), RETRY_MAX_SECONDS)
        self.state = TrunkState.FAILED
        self.last_error = reason
        self.registered_until = 0.0
        self._answered_nonce = None
        self._timer = now + delay

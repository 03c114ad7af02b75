"""Who may send this request? Digest authentication, ACL and transport rules (sans-IO).

Rules, in the order they apply (ACC-02, ACC-11, ACC-20/21, REG-02):

1. A User-Agent known to belong to a scanner is reported to the source guard.
2. An existing account whose ACL does not contain the source is refused with 403 before any
   challenge is spent on it (ACC-11).
3. No credentials: challenge (401 for REGISTER, 407 for everything else). This is how every
   digest exchange starts, so it is never a failure. A request for a user that does not
   exist gets exactly the same challenge (same realm, algorithms, headers), so unknown users
   and wrong passwords look identical from outside; it is reported as a probe.
4. Credentials: a nonce that is not ours, a replayed nonce-count, credentials for an unknown
   user, or a wrong response are failures and get a fresh challenge; a correct answer to an
   expired nonce gets ``stale=true``. Nonces are the SIP core's stateless HMAC nonces, keyed
   by a secret all replicas share, so a challenge from one replica is answered at another.
5. Authenticated, but the account or its extension is disabled, or the transport is not
   allowed by both the SIP settings and the account: 403 with a reason saying so. These
   come after authentication so that they reveal nothing to someone without the password.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from centralino.sip.digest import DigestChallenger, DigestCredentials, DigestStatus
from centralino.sip.transport.flow import TransportKind
from centralino.v1 import config_pb2
from centralino_registrar.acl import Acl, AclConfigError
from centralino_registrar.defence import Signal, SourceBlocked, SourceGuard

#: offered in this order (RFC 8760 §2.4 leaves it to us): MD5 first, for phones that take
#: the first challenge they meet
OFFERED_ORDER = ("MD5", "SHA-256")
#: User-Agents that give up on a REGISTER when any challenge names an algorithm they lack
#: (libre, under baresip 1.0, fails with ENOSYS on the SHA-256 one instead of skipping
#: it); they are challenged with MD5 only
DEFAULT_MD5_ONLY_AGENTS = ("baresip",)

TRANSPORT_TO_PROTO: dict[TransportKind, config_pb2.Transport] = {
    TransportKind.UDP: config_pb2.UDP,
    TransportKind.TCP: config_pb2.TCP,
    TransportKind.TLS: config_pb2.TLS,
    TransportKind.WS: config_pb2.WS,
    TransportKind.WSS: config_pb2.WSS,
}
PROTO_TO_TRANSPORT = {v: k for k, v in TRANSPORT_TO_PROTO.items()}

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AuthRequest:
    method: str
    username: str  # the account the request claims to come from
    source_ip: str
    transport: TransportKind
    credentials: DigestCredentials | None
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class Reject:
    """Answer with this final response (challenges included)."""

    status: int
    reason: str
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Authenticated:
    account: config_pb2.Account
    realm: str


@dataclass(frozen=True, slots=True)
class AuthResult:
    outcome: Reject | Authenticated
    blocked: SourceBlocked | None = None
    failures: tuple[Signal, ...] = field(default=())


def transport_allowed(
    transport: TransportKind, account: config_pb2.Account, sip: config_pb2.SipSettings
) -> bool:
    """ACC-20/21: allowed by the SIP settings and by the account (an empty list: all)."""
    wanted = TRANSPORT_TO_PROTO[transport]
    global_ok = not sip.enabled_transports or wanted in sip.enabled_transports
    account_ok = not account.transports or wanted in account.transports
    return global_ok and account_ok


class Authenticator:
    def __init__(
        self,
        secret: bytes,
        guard: SourceGuard,
        default_realm: str,
        nonce_ttl: float = 300.0,
        md5_only_agents: tuple[str, ...] = DEFAULT_MD5_ONLY_AGENTS,
    ) -> None:
        self.secret = secret
        self.md5_only_agents = tuple(a.lower() for a in md5_only_agents)
        self.guard = guard
        self.default_realm = default_realm
        self.nonce_ttl = nonce_ttl
        self._challengers: dict[str, DigestChallenger] = {}

    def challenger(self, realm: str) -> DigestChallenger:
        challenger = self._challengers.get(realm)
        if challenger is None:
            # qop stays optional: RFC 2069-style answers from old phones are still checked
            # against the HA1, they only lack replay protection
            challenger = DigestChallenger(
                self.secret,
                realm,
                algorithms=OFFERED_ORDER,
                nonce_ttl=self.nonce_ttl,
                require_qop=False,
            )
            self._challengers[realm] = challenger
        return challenger

    def _challenge(self, request: AuthRequest, realm: str, now: float, stale: bool) -> Reject:
        values = self.challenger(realm).challenges(now, stale=stale)
        agent = request.user_agent.lower()
        if agent and any(a in agent for a in self.md5_only_agents):
            values = [v for v in values if "algorithm=MD5" in v]
        if request.method != "REGISTER":
            headers = tuple(("Proxy-Authenticate", v) for v in values)
            return Reject(407, "Proxy Authentication Required", headers)
        return Reject(401, "Unauthorized", tuple(("WWW-Authenticate", v) for v in values))

    def check(
        self,
        request: AuthRequest,
        account: config_pb2.Account | None,
        sip: config_pb2.SipSettings,
        now: float,
    ) -> AuthResult:
        """``now`` is wall-clock time: nonces carry it and every replica must agree."""
        signals: list[Signal] = []
        if request.user_agent and self.guard.is_scanner(request.user_agent):
            signals.append(Signal.SCANNER_AGENT)
        realm = sip.realm or self.default_realm
        if account is not None:
            try:
                acl: Acl | None = Acl.parse(account.acl_address, account.acl_netmask)
            except AclConfigError:
                acl = None  # fail closed: an ACL we cannot read admits nobody
            if acl is None or not acl.allows(request.source_ip):
                signals.append(Signal.AUTH_FAILURE)
                return self._result(
                    Reject(403, "Forbidden (source address not allowed)"), request, signals, now
                )
        else:
            signals.append(Signal.UNKNOWN_USER)
        creds = request.credentials
        if creds is None or creds.realm != realm:
            return self._result(self._challenge(request, realm, now, False), request, signals, now)
        secret = None
        if account is not None and creds.username == account.username:
            algorithm = creds.algorithm.upper()
            secret = next(
                (
                    s
                    for s in account.secrets
                    if s.realm == realm and s.algorithm.upper() == algorithm
                ),
                None,
            )
        if secret is None:
            # unknown user, someone else's username, or no HA1 for that algorithm: the
            # same work and the same answer as a wrong password
            self.challenger(realm).verify(creds, method=request.method, ha1_value="0" * 32, now=now)
            signals.append(Signal.AUTH_FAILURE)
            return self._result(self._challenge(request, realm, now, False), request, signals, now)
        verdict = self.challenger(realm).verify(
            creds, method=request.method, ha1_value=secret.ha1, now=now
        )
        if verdict.status is DigestStatus.STALE:
            return self._result(self._challenge(request, realm, now, True), request, signals, now)
        if not verdict.ok:
            signals.append(Signal.AUTH_FAILURE)
            return self._result(self._challenge(request, realm, now, False), request, signals, now)
        assert account is not None  # a secret was found on it
        if not account.enabled:
            return self._result(Reject(403, "Forbidden (account disabled)"), request, signals, now)
        if account.extension_number and not account.extension_enabled:
            return self._result(
                Reject(403, "Forbidden (extension disabled)"), request, signals, now
            )
        if not transport_allowed(request.transport, account, sip):
            reason = f"Forbidden (transport {request.transport.via_token} not allowed)"
            return self._result(Reject(403, reason), request, signals, now)
        return self._result(Authenticated(account, realm), request, signals, now)

    def _result(
        self,
        outcome: Reject | Authenticated,
        request: AuthRequest,
        signals: list[Signal],
        now: float,
    ) -> AuthResult:
        blocked = None
        for signal in signals:
            blocked = self.guard.report(request.source_ip, signal, now) or blocked
        return AuthResult(outcome, blocked, tuple(signals))

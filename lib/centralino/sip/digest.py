"""HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).

Server side: ``DigestChallenger`` issues challenges and verifies credentials. Nonces are
stateless (RFC 7616 §5.4 suggests it): ``base64url(issued-at ‖ salt ‖ HMAC(secret,
issued-at ‖ salt ‖ realm))``, so any replica holding the secret can verify any nonce
without shared state. A nonce whose MAC is right but whose age passed ``nonce_ttl`` is
answered with a fresh challenge carrying ``stale=true`` (§3.3), so the phone retries
without asking its user for the password again.

Replays: with ``qop=auth`` every request carries a nonce-count that must grow for a given
nonce (§3.4). The highest count seen per nonce is kept in a bounded table; when the table
is full the oldest nonces are forgotten and any nonce at least that old is treated as
stale, so forgetting can never turn a replay into an accepted request.

Stored credentials are HA1 values (``ha1()``), per realm and algorithm: the password
itself is never needed. All secret comparisons are constant-time.

Client side: ``parse_challenge`` and ``build_authorization`` answer a 401/407 (trunks and
tests use them).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from centralino.sip.errors import SipHeaderError
from centralino.sip.grammar import WS, quote, split_commas, unquote
from centralino.sip.ids import RandomBytes

__all__ = [
    "DigestChallenge",
    "DigestChallenger",
    "DigestCredentials",
    "DigestStatus",
    "DigestVerdict",
    "build_authorization",
    "ha1",
    "parse_authorization",
    "parse_challenge",
]

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_SALT_BYTES = 8
_MAC_BYTES = 16
_NONCE_BYTES = 8 + _SALT_BYTES + _MAC_BYTES


def _h(algorithm: str, text: str) -> str:
    try:
        fn = _HASHES[algorithm.upper()]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}") from None
    return fn(text.encode("utf-8")).hexdigest()


def ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password), what a server stores instead of the password."""
    return _h(algorithm, f"{username}:{realm}:{password}")


def _response(
    algorithm: str,
    ha1_value: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: str,
    cnonce: str,
) -> str:
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop is None:
        return _h(algorithm, f"{ha1_value}:{nonce}:{ha2}")  # RFC 2069 compatibility
    return _h(algorithm, f"{ha1_value}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _auth_params(value: str, header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip(WS).partition(" ")
    params: dict[str, str] = {}
    for item in split_commas(rest):
        if not item:
            continue
        name, eq, raw = item.partition("=")
        if not eq:
            raise SipHeaderError(header, f"auth-param without value {item[:30]!r}")
        params[name.strip(WS).lower()] = unquote(raw.strip(WS))
    return scheme, params


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A parsed WWW-Authenticate / Proxy-Authenticate value."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    def __str__(self) -> str:
        parts = [f"realm={quote(self.realm)}", f"nonce={quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={quote(','.join(self.qop))}")
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)


def parse_challenge(value: str, header: str = "WWW-Authenticate") -> DigestChallenge:
    scheme, params = _auth_params(value, header)
    if scheme.lower() != "digest":
        raise SipHeaderError(header, f"unsupported scheme {scheme!r}", status_hint=401)
    if "realm" not in params or "nonce" not in params:
        raise SipHeaderError(header, "realm and nonce are required")
    qop = tuple(q.strip(WS) for q in params.get("qop", "").split(",") if q.strip(WS))
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
    )


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """A parsed Authorization / Proxy-Authorization value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    params: dict[str, str] = field(default_factory=dict)


def parse_authorization(value: str, header: str = "Authorization") -> DigestCredentials:
    """Parse Digest credentials; raise ``SipHeaderError`` if required fields are missing."""
    scheme, params = _auth_params(value, header)
    if scheme.lower() != "digest":
        raise SipHeaderError(header, f"unsupported scheme {scheme!r}", status_hint=401)
    missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in params]
    if missing:
        raise SipHeaderError(header, f"missing {', '.join(missing)}")
    qop = params.get("qop")
    if qop is not None and ("nc" not in params or "cnonce" not in params):
        raise SipHeaderError(header, "qop without nc and cnonce")
    return DigestCredentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"],
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
        opaque=params.get("opaque"),
        params=params,
    )


def build_authorization(
    challenge: DigestChallenge | str,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The Authorization value answering ``challenge`` (qop=auth when offered)."""
    if isinstance(challenge, str):
        challenge = parse_challenge(challenge)
    algorithm = challenge.algorithm
    secret = ha1(username, challenge.realm, password, algorithm)
    qop = "auth" if "auth" in challenge.qop else None
    nc_text = f"{nc:08x}"
    digest = _response(algorithm, secret, challenge.nonce, method, uri, qop, nc_text, cnonce)
    parts = [
        f"username={quote(username)}",
        f"realm={quote(challenge.realm)}",
        f"nonce={quote(challenge.nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(digest)}",
        f"algorithm={algorithm}",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote(cnonce)}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


class DigestStatus(enum.Enum):
    OK = "ok"
    # The nonce is ours but too old (or forgotten): challenge again with stale=true.
    STALE = "stale"
    # Anything else: wrong password, forged nonce, replay, wrong realm. Answer 401/403.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DigestVerdict:
    status: DigestStatus
    reason: str

    @property
    def ok(self) -> bool:
        return self.status is DigestStatus.OK


class DigestChallenger:
    """Issues digest challenges for one realm and verifies the answers.

    ``secret`` keys the nonce MAC; give every replica the same secret. ``algorithms`` are
    offered in order of preference (RFC 8760 §2.4: one challenge per algorithm).
    """

    def __init__(
        self,
        secret: bytes,
        realm: str,
        *,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        nonce_ttl: float = 300.0,
        max_tracked_nonces: int = 65536,
        require_qop: bool = True,
        random_bytes: RandomBytes = secrets.token_bytes,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("digest nonce secret must be at least 16 bytes")
        for algorithm in algorithms:
            if algorithm.upper() not in _HASHES:
                raise ValueError(f"unsupported digest algorithm {algorithm!r}")
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_ttl = nonce_ttl
        self.require_qop = require_qop
        self._secret = secret
        self._random_bytes = random_bytes
        self._max_tracked = max_tracked_nonces
        # nonce -> (issued_at, highest nonce-count accepted), oldest first.
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._forgotten_before = float("-inf")

    def new_nonce(self, now: float) -> str:
        issued = struct.pack(">d", now)
        salt = self._random_bytes(_SALT_BYTES)
        mac = self._mac(issued + salt)
        return base64.urlsafe_b64encode(issued + salt + mac).decode("ascii")

    def challenges(self, now: float, *, stale: bool = False) -> list[str]:
        """WWW-Authenticate (or Proxy-Authenticate) values, one per algorithm, same nonce."""
        nonce = self.new_nonce(now)
        return [
            str(DigestChallenge(self.realm, nonce, algorithm, ("auth",), stale=stale))
            for algorithm in self.algorithms
        ]

    def verify(
        self,
        credentials: DigestCredentials,
        *,
        method: str,
        ha1_value: str,
        now: float,
        request_uri: str | None = None,
    ) -> DigestVerdict:
        """Check credentials against the stored HA1 for their realm and algorithm.

        ``request_uri``, if given, must equal the digest ``uri`` (RFC 7616 §3.4.6).
        """
        algorithm = credentials.algorithm.upper()
        if algorithm not in (a.upper() for a in self.algorithms):
            return DigestVerdict(DigestStatus.FAILED, f"algorithm {algorithm} not offered")
        if credentials.realm != self.realm:
            return DigestVerdict(DigestStatus.FAILED, "wrong realm")
        if request_uri is not None and credentials.uri != request_uri:
            return DigestVerdict(DigestStatus.FAILED, "digest uri differs from Request-URI")
        issued_at = self._nonce_time(credentials.nonce)
        if issued_at is None:
            return DigestVerdict(DigestStatus.FAILED, "nonce not issued by us")
        if credentials.qop is None:
            if self.require_qop:
                return DigestVerdict(DigestStatus.FAILED, "qop=auth required")
        elif credentials.qop != "auth":
            return DigestVerdict(DigestStatus.FAILED, f"unsupported qop {credentials.qop!r}")
        expected = _response(
            algorithm,
            ha1_value,
            credentials.nonce,
            method,
            credentials.uri,
            credentials.qop,
            credentials.nc or "",
            credentials.cnonce or "",
        )
        if not hmac.compare_digest(expected.encode(), credentials.response.lower().encode()):
            return DigestVerdict(DigestStatus.FAILED, "wrong response (password)")
        # Only a correct answer to an expired nonce earns stale=true (RFC 7616 §3.3).
        if now - issued_at > self.nonce_ttl or issued_at <= self._forgotten_before:
            return DigestVerdict(DigestStatus.STALE, "nonce expired")
        if credentials.qop is not None:
            return self._check_count(credentials.nonce, credentials.nc or "", issued_at, now)
        return DigestVerdict(DigestStatus.OK, "authenticated")

    def _check_count(self, nonce: str, nc_text: str, issued_at: float, now: float) -> DigestVerdict:
        try:
            nc = int(nc_text, 16)
        except ValueError:
            return DigestVerdict(DigestStatus.FAILED, "bad nonce-count")
        previous = self._counts.get(nonce)
        if previous is not None and nc <= previous[1]:
            return DigestVerdict(DigestStatus.FAILED, "nonce-count replayed")
        self._counts[nonce] = (issued_at, nc)
        self._prune(now)
        return DigestVerdict(DigestStatus.OK, "authenticated")

    def _prune(self, now: float) -> None:
        # Entries are roughly in issue order; expired ones need no tracking (they are stale).
        while self._counts:
            nonce, (issued_at, _) = next(iter(self._counts.items()))
            if now - issued_at > self.nonce_ttl:
                del self._counts[nonce]
            elif len(self._counts) > self._max_tracked:
                del self._counts[nonce]
                self._forgotten_before = max(self._forgotten_before, issued_at)
            else:
                break

    def _mac(self, data: bytes) -> bytes:
        msg = data + self.realm.encode("utf-8")
        return hmac.new(self._secret, msg, hashlib.sha256).digest()[:_MAC_BYTES]

    def _nonce_time(self, nonce: str) -> float | None:
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != _NONCE_BYTES:
            return None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        issued_at: float = struct.unpack(">d", body[:8])[0]
        return issued_at

"""SRTP/SRTCP for one leg (RFC 3711) with SDES keys (RFC 4568), through pylibsrtp.

Each direction has its own key: ours protects what we send, the phone's unprotects what it
sends. Failures are typed so the relay can count replays and forgeries separately
(ACC-16). Key material never reaches ``repr`` or exception text.
"""

from __future__ import annotations

import pylibsrtp

from centralino.sdp import CRYPTO_SUITES

_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
#: RFC 3711 §3.3.2 recommends at least 64; phones reorder little, but bursts after a
#: network hiccup arrive fast, so use a wider window.
REPLAY_WINDOW = 1024


class SrtpError(ValueError):
    """An inbound packet failed SRTP processing."""

    reason = "other"


class SrtpAuthError(SrtpError):
    """Tampered, forged, or protected with another key."""

    reason = "auth"


class SrtpReplayError(SrtpError):
    """Already seen (or older than the replay window)."""

    reason = "replay"


def _classify(exc: pylibsrtp.Error) -> SrtpError:
    text = str(exc)
    if "replay" in text or "too old" in text:
        return SrtpReplayError(text)
    if "authentication" in text:
        return SrtpAuthError(text)
    return SrtpError(text)


def _policy(suite: str, key_salt: bytes, direction: int) -> pylibsrtp.Policy:
    if suite not in _PROFILES:
        raise ValueError(f"unsupported SRTP suite {suite!r}")
    if len(key_salt) != sum(CRYPTO_SUITES[suite]):
        raise ValueError(f"{suite} needs {sum(CRYPTO_SUITES[suite])} bytes of key and salt")
    policy = pylibsrtp.Policy(key=key_salt, ssrc_type=direction, srtp_profile=_PROFILES[suite])
    policy.window_size = REPLAY_WINDOW
    # A B2BUA may resend the same packet after a re-INVITE restores a stream.
    policy.allow_repeat_tx = True
    return policy


class SrtpContext:
    """Both directions of SRTP on one leg."""

    __slots__ = ("_rx", "_tx", "suite")

    def __init__(self, suite: str, local_key: bytes, remote_key: bytes) -> None:
        self.suite = suite
        self._tx = pylibsrtp.Session(_policy(suite, local_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        self._rx = pylibsrtp.Session(_policy(suite, remote_key, pylibsrtp.Policy.SSRC_ANY_INBOUND))

    def __repr__(self) -> str:
        return f"SrtpContext(suite={self.suite!r})"

    def protect(self, rtp: bytes) -> bytes:
        try:
            return self._tx.protect(rtp)
        except (pylibsrtp.Error, ValueError) as exc:  # ValueError: beyond libsrtp's MTU buffer
            raise SrtpError(f"cannot protect: {exc}") from None

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        try:
            return self._tx.protect_rtcp(rtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"cannot protect: {exc}") from None

    def unprotect(self, srtp: bytes) -> bytes:
        try:
            return self._rx.unprotect(srtp)
        except pylibsrtp.Error as exc:
            raise _classify(exc) from None
        except ValueError as exc:  # longer than libsrtp's buffer
            raise SrtpError(str(exc)) from None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        try:
            return self._rx.unprotect_rtcp(srtcp)
        except pylibsrtp.Error as exc:
            raise _classify(exc) from None
        except ValueError as exc:
            raise SrtpError(str(exc)) from None

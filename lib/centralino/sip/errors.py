"""SIP errors, typed by who is to blame (the h11 habit).

``SipParseError`` and its subclasses are the peer's fault: the message (or one header of
it) breaks the RFC 3261 grammar. Each carries ``status_hint``, the response a server
should send when the request can still be answered (§21.4), and ``reason``, a short
phrase naming the problem that fits in a Reason-Phrase ("Bad CSeq header").

``LocalProtocolError`` is our own misuse of the API: sending a response on a terminated
transaction, building an in-dialog request on a dialog without a remote target...
"""

from __future__ import annotations

__all__ = [
    "LocalProtocolError",
    "SipError",
    "SipHeaderError",
    "SipParseError",
    "SipUnsupportedSchemeError",
]


class SipError(Exception):
    """Base class of every error raised by the SIP core."""

    status_hint: int = 500

    def __init__(self, reason: str, *, status_hint: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status_hint is not None:
            self.status_hint = status_hint


class SipParseError(SipError):
    """The peer sent bytes that are not a valid SIP message (RFC 3261 §7, §25)."""

    status_hint = 400


class SipHeaderError(SipParseError):
    """One header field of an otherwise framed message is malformed.

    ``header`` is the canonical header name, so a server can log it or, for the
    mandatory ones, decide whether the request is still addressable.
    """

    def __init__(self, header: str, detail: str = "", *, status_hint: int | None = None) -> None:
        reason = f"Bad {header} header"
        if detail:
            reason = f"{reason}: {detail}"
        super().__init__(reason, status_hint=status_hint)
        self.header = header


class SipUnsupportedSchemeError(SipParseError):
    """A URI with a scheme we do not handle (answered 416, RFC 3261 §21.4.14)."""

    status_hint = 416

    def __init__(self, scheme: str) -> None:
        super().__init__(f"Unsupported URI scheme {scheme!r}")
        self.scheme = scheme


class LocalProtocolError(SipError):
    """We used the API in a way the protocol does not allow (our bug, not the peer's)."""

    status_hint = 500

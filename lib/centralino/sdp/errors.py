"""SDP errors, typed by who is to blame.

A peer's malformed SDP is answered ``400 Bad Request`` (RFC 3261 §21.4.1); an offer we can
accept syntactically but share no media with is answered ``488 Not Acceptable Here``
(RFC 3261 §21.4.26, RFC 3264 §6). The hint travels with the error so the router need not guess.
"""

from __future__ import annotations


class SdpError(ValueError):
    """Base class: something about an SDP body is wrong."""

    status_hint: int = 400

    def __init__(self, message: str, *, line_number: int | None = None) -> None:
        self.line_number = line_number
        where = f"line {line_number}: " if line_number is not None else ""
        super().__init__(f"{where}{message}")


class SdpParseError(SdpError):
    """The peer sent SDP that does not follow the RFC 4566 grammar."""

    status_hint = 400


class SdpNegotiationError(SdpError):
    """The offer is well formed but nothing in it can be accepted (no common codec...)."""

    status_hint = 488


class SdpUsageError(SdpError):
    """Our own misuse of the API (unknown account codec name, bad port...)."""

    status_hint = 500

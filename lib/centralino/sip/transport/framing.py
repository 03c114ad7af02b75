"""Sans-IO framing of SIP messages on a byte stream (TCP, TLS).

RFC 3261 §18.3: on a stream transport the end of a message is known only from its
Content-Length header, which is therefore mandatory there; §7.5 lets CRLFs precede a
start line and asks receivers to ignore them. RFC 5626 §3.5.1 adds the keep-alive: a
double CRLF ("ping") which the receiver answers with a single CRLF ("pong").

The framer never parses a message beyond what framing needs (the header block end and
Content-Length), so it stays independent of the full SIP parser. As in h11, hand it bytes
as they arrive (``receive_data``) and take complete messages and pings out one at a time
(``next_event``) until it needs more. Any framing error is final: the bytes
after it cannot be trusted to start a message, so the flow must be closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "PONG",
    "FramingError",
    "KeepAlivePing",
    "MessageTooLargeError",
    "MissingContentLengthError",
    "StreamFramer",
    "StreamMessage",
]

# A SIP message worth accepting fits in a few kilobytes; 64 KiB matches the largest UDP
# datagram, so a message can move between transports without a different limit.
DEFAULT_MAX_MESSAGE_SIZE = 65535

# What a receiver of a ping sends back (RFC 5626 §3.5.1).
PONG = b"\r\n"

_CRLF = b"\r\n"
_HEADER_END = b"\r\n\r\n"
# "Content-Length" or its compact form "l" (RFC 3261 §7.3.3), at the start of a header
# line; HCOLON allows whitespace before the colon (§25.1).
_CONTENT_LENGTH = re.compile(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_DIGITS = re.compile(rb"[0-9]{1,10}")


class FramingError(Exception):
    """The peer sent bytes that cannot be framed as SIP; the flow must be closed.

    ``status_hint`` is the response a server would send if it could still answer.
    """

    status_hint: int = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageTooLargeError(FramingError):
    """The message (headers, or headers plus the announced body) exceeds the limit."""

    status_hint = 513

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of at least {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class MissingContentLengthError(FramingError):
    """A message on a stream transport had no Content-Length header (RFC 3261 §18.3)."""

    def __init__(self) -> None:
        super().__init__("Content-Length header is mandatory on stream transports")


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One complete SIP message: start line, headers, blank line and body."""

    data: bytes


@dataclass(frozen=True, slots=True)
class KeepAlivePing:
    """A double-CRLF keep-alive; answer it by sending :data:`PONG`."""


StreamEvent = StreamMessage | KeepAlivePing


class StreamFramer:
    """Split a byte stream into SIP messages and keep-alive pings."""

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < len(_HEADER_END):
            raise ValueError(f"max_message_size {max_message_size} is too small")
        self._max = max_message_size
        self._buffer = bytearray()
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as an event."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; then call :meth:`next_event` until it returns ``None``."""
        if self._error is not None:
            raise self._error
        self._buffer += data

    def next_event(self) -> StreamEvent | None:
        """The next complete event, or ``None`` when more bytes are needed.

        Raises :class:`FramingError` (and keeps raising it) once the stream is broken;
        the events before the broken part have been returned by then.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except FramingError as exc:
            self._error = exc
            self._buffer.clear()
            raise

    def _next_event(self) -> StreamEvent | None:
        buf = self._buffer
        if buf.startswith(_CRLF):
            if buf.startswith(_HEADER_END):
                del buf[:4]
                return KeepAlivePing()
            if len(buf) < len(_HEADER_END) and _HEADER_END.startswith(bytes(buf)):
                return None  # a ping may be arriving in pieces
            del buf[:2]  # a stray CRLF (or a pong) before a start line
            return self._next_event()
        end = buf.find(_HEADER_END)
        if end < 0:
            # A partial CRLFCRLF at the tail is at most three bytes, so the header block
            # already holds at least len(buf) - 3 bytes.
            if len(buf) - 3 > self._max:
                raise MessageTooLargeError(len(buf), self._max)
            return None
        body_start = end + len(_HEADER_END)
        length = _content_length(bytes(buf[: end + 2]))
        total = body_start + length
        if total > self._max:
            raise MessageTooLargeError(total, self._max)
        if len(buf) < total:
            return None
        message = bytes(buf[:total])
        del buf[:total]
        return StreamMessage(message)


def _content_length(header_block: bytes) -> int:
    """The Content-Length of a header block that ends with CRLF."""
    values = {m.group(1).strip() for m in _CONTENT_LENGTH.finditer(header_block)}
    if not values:
        raise MissingContentLengthError()
    if len(values) > 1:
        shown = ", ".join(sorted(repr(v.decode("latin-1")) for v in values))
        raise FramingError(f"conflicting Content-Length values: {shown}")
    (value,) = values
    if not _DIGITS.fullmatch(value):
        raise FramingError(f"invalid Content-Length value {value.decode('latin-1')!r}")
    return int(value)

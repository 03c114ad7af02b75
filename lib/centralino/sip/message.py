"""SIP requests and responses: parsing, typed views and serialisation (RFC 3261 §7, §25).

``parse_message`` checks what framing and routing cannot do without: the start line,
header-line syntax, bare control characters and Content-Length; the body is cut at
Content-Length (§18.3: extra datagram bytes are discarded). Structured headers (Via,
From, To, CSeq...) are parsed on first access and cached until the headers change, so
a registrar that only reads five headers does not pay for the other fifteen; each
accessor raises ``SipHeaderError`` for a malformed value. ``validate()`` parses every
header the core understands up front and checks the mandatory ones (§8.1.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from centralino.sip.address import Address, parse_address
from centralino.sip.errors import SipHeaderError, SipParseError
from centralino.sip.fields import MAX_CSEQ, CSeq, parse_cseq, parse_uint
from centralino.sip.grammar import TOKEN, WS, has_bad_header_bytes, split_commas
from centralino.sip.headers import _KEY_CACHE, Headers, header_key
from centralino.sip.uri import SipUri, parse_uri
from centralino.sip.via import Via, parse_via

__all__ = [
    "REASON_PHRASES",
    "Message",
    "Request",
    "Response",
    "parse_message",
]

SIP_VERSION = "SIP/2.0"
_CRLF = "\r\n"
_METHOD_RE = re.compile(TOKEN)
_VERSION_RE = re.compile(r"SIP/[0-9]{1,3}\.[0-9]{1,3}", re.IGNORECASE)
_STATUS_RE = re.compile(r"[1-6][0-9][0-9]")
_SCHEME_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*:")
# A body larger than the biggest UDP datagram is not something a PBX signals.
_MAX_CONTENT_LENGTH = 2**24

REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}

_T = TypeVar("_T")


class Message:
    """What requests and responses share: headers, body and the typed header views."""

    __slots__ = ("_cache", "_cache_version", "body", "headers", "version")

    def __init__(
        self,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers.from_pairs(list(headers))
        self.headers = headers
        self.body = body
        self.version = version
        self._cache: dict[str, Any] = {}
        self._cache_version = -1

    # -- typed views -------------------------------------------------------------------

    def _cached(self, name: str, build: Callable[[], _T]) -> _T:
        if self._cache_version != self.headers.version:
            self._cache.clear()
            self._cache_version = self.headers.version
        try:
            return self._cache[name]  # type: ignore[no-any-return]
        except KeyError:
            value = self._cache[name] = build()
            return value

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipHeaderError(name, "missing")
        return value

    @property
    def call_id(self) -> str:
        return self._cached("call-id", self._parse_call_id)

    def _parse_call_id(self) -> str:
        value = self._required("Call-ID")
        if not value or any(ch in value for ch in " \t"):
            raise SipHeaderError("Call-ID", repr(value[:40]))
        return value

    @property
    def cseq(self) -> CSeq:
        return self._cached("cseq", lambda: parse_cseq(self._required("CSeq")))

    @property
    def vias(self) -> list[Via]:
        return self._cached("via", lambda: [parse_via(v) for v in self.headers.values("Via")])

    @property
    def top_via(self) -> Via:
        """The first Via value, parsed alone (the transaction layer's hot path)."""
        return self._cached("top-via", self._parse_top_via)

    def _parse_top_via(self) -> Via:
        line = self.headers.get("Via")
        if line is None:
            raise SipHeaderError("Via", "missing")
        first = line if "," not in line else split_commas(line)[0]
        return parse_via(first)

    def set_top_via(self, via: Via) -> None:
        self.headers.replace_first_value("Via", str(via))

    @property
    def from_(self) -> Address:
        return self._cached("from", lambda: parse_address(self._required("From"), "From"))

    @property
    def to(self) -> Address:
        return self._cached("to", lambda: parse_address(self._required("To"), "To"))

    @property
    def contacts(self) -> list[Address]:
        """Contact values; empty for ``Contact: *`` (see ``contact_is_star``)."""
        return self._cached("contact", self._parse_contacts)

    def _parse_contacts(self) -> list[Address]:
        if self.contact_is_star:
            return []
        return [parse_address(v, "Contact") for v in self.headers.values("Contact")]

    @property
    def contact_is_star(self) -> bool:
        values = self.headers.values("Contact")
        if "*" in values:
            if len(values) != 1:
                raise SipHeaderError("Contact", "'*' mixed with other contacts")
            return True
        return False

    @property
    def routes(self) -> list[Address]:
        return self._cached("route", lambda: self._addresses("Route"))

    @property
    def record_routes(self) -> list[Address]:
        return self._cached("record-route", lambda: self._addresses("Record-Route"))

    def _addresses(self, name: str) -> list[Address]:
        return [parse_address(v, name) for v in self.headers.values(name)]

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else parse_uint(value, "Max-Forwards", 255)

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        return None if value is None else parse_uint(value, "Expires", MAX_CSEQ)

    @property
    def content_type(self) -> str | None:
        """The media type, lower-cased, without parameters (``application/sdp``)."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        media = value.split(";", 1)[0].strip(WS).lower()
        kind, slash, sub = media.partition("/")
        if not slash or not kind.strip(WS) or not sub.strip(WS):
            raise SipHeaderError("Content-Type", repr(value[:40]))
        return f"{kind.strip(WS)}/{sub.strip(WS)}"

    @property
    def content_length(self) -> int:
        return len(self.body)

    def validate(self) -> None:
        """Parse all headers the core understands; raise ``SipHeaderError`` at the first bad one."""
        for name in ("Call-ID", "CSeq", "From", "To", "Via"):
            if self.headers.get(name) is None:
                raise SipHeaderError(name, "missing")
        _ = (self.call_id, self.cseq, self.vias, self.from_, self.to, self.contacts)
        _ = (self.routes, self.record_routes, self.max_forwards, self.expires)
        _ = self.content_type

    # -- serialisation -----------------------------------------------------------------

    def start_line(self) -> str:
        raise NotImplementedError

    def serialize(self) -> bytes:
        """The wire form. Content-Length always states the body's real length (§20.14)."""
        lines = [self.start_line()]
        body_length = str(len(self.body))
        has_length = False
        for key, name, value in self.headers._items:
            if key == "content-length":
                has_length = True
                value = body_length
            lines.append(f"{name}: {value}")
        if not has_length:
            lines.append("Content-Length: " + body_length)
        lines.append(_CRLF)
        return _CRLF.join(lines).encode("utf-8", "surrogateescape") + self.body

    def __bytes__(self) -> bytes:
        return self.serialize()


class Request(Message):
    """A SIP request. ``uri`` is parsed on first access; ``uri_text`` is the wire form."""

    __slots__ = ("_uri", "_uri_parsed_as", "method", "uri_text")

    def __init__(
        self,
        method: str,
        uri: SipUri | str,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        super().__init__(headers, body, version)
        self.method = method
        self._uri: SipUri | None = uri if isinstance(uri, SipUri) else None
        self.uri_text = str(uri)
        # How the parsed URI printed when parsed: unchanged, the wire text is kept as is.
        self._uri_parsed_as: str | None = None

    @property
    def uri(self) -> SipUri:
        """The Request-URI. Raises ``SipParseError`` (416 for unknown schemes)."""
        if self._uri is None:
            self._uri = parse_uri(self.uri_text)
            self._uri_parsed_as = str(self._uri)
        return self._uri

    @uri.setter
    def uri(self, value: SipUri | str) -> None:
        self._uri = value if isinstance(value, SipUri) else None
        self._uri_parsed_as = None
        self.uri_text = str(value)

    def validate(self) -> None:
        """Also checks the version (505), the Request-URI and the CSeq method (§8.2)."""
        if self.version.upper() != SIP_VERSION:
            raise SipParseError(f"Version {self.version} not supported", status_hint=505)
        super().validate()
        if self.uri.headers:
            # §19.1.1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
            raise SipParseError("Headers in the Request-URI")
        if self.cseq.method != self.method:
            raise SipParseError("CSeq method does not match the request method")

    def start_line(self) -> str:
        uri = self.uri_text
        if self._uri is not None:
            # A SipUri handed out by .uri may have been edited in place since; if not,
            # the peer's spelling (parameter case...) is kept.
            printed = str(self._uri)
            if printed != self._uri_parsed_as:
                uri = printed
        return f"{self.method} {uri} {self.version}"

    def copy(self) -> Request:
        return Request(
            self.method,
            self._uri.copy() if self._uri is not None else self.uri_text,
            self.headers.copy(),
            self.body,
            self.version,
        )

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri_text}>"


class Response(Message):
    """A SIP response; ``reason`` defaults to the RFC 3261 phrase for ``status``."""

    __slots__ = ("reason", "status")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        super().__init__(headers, body, version)
        self.status = status
        self.reason = reason if reason is not None else REASON_PHRASES.get(status, "")

    @property
    def status_class(self) -> int:
        return self.status // 100

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def copy(self) -> Response:
        return Response(self.status, self.reason, self.headers.copy(), self.body, self.version)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def parse_message(data: bytes) -> Request | Response:
    """Parse one SIP message (a whole datagram or a message framed from a stream).

    Raises ``SipParseError`` (or ``SipHeaderError``) naming the problem.
    """
    # §7.5: CRLFs before the start line are ignored (they are keep-alives on streams).
    if data[:2] == b"\r\n":
        data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("Missing empty line after the headers")
    head = data[:end]
    if has_bad_header_bytes(head):
        raise SipParseError("Control character in the message headers")
    lines = head.decode("utf-8", "surrogateescape").split(_CRLF)
    message = _parse_start_line(lines[0])
    items = message.headers._items
    append = items.append
    cached_key = _KEY_CACHE.get
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            # §7.3.1 folding: a continuation line extends the previous header's value.
            if not items:
                raise SipParseError("Continuation line before the first header")
            key, name, value = items[-1]
            items[-1] = (key, name, f"{value} {line.strip(WS)}".strip(WS))
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError(f"Header line without a colon: {line[:40]!r}")
        found = cached_key(name)
        if found is None:
            name = name.rstrip(WS)
            try:
                found = header_key(name)
            except ValueError:
                raise SipParseError(f"Bad header name {name[:40]!r}") from None
        append((found, name, value.strip(WS)))
    message.body = _body(items, data, end + 4)
    return message


def _parse_start_line(line: str) -> Request | Response:
    if line[:4].upper() == "SIP/":
        parts = line.split(" ", 2)
        if len(parts) < 3:
            raise SipParseError("Bad Status-Line")
        version, code, reason = parts
        if not _VERSION_RE.fullmatch(version) or not _STATUS_RE.fullmatch(code):
            raise SipParseError("Bad Status-Line")
        return Response(int(code), reason, version=version)
    parts = line.split(" ")
    # Request-Line = Method SP Request-URI SP SIP-Version: exactly single spaces
    # (RFC 4475 §3.1.2.8-10 send extra or trailing whitespace; we reject them).
    if len(parts) != 3:
        raise SipParseError("Bad Request-Line")
    method, uri_text, version = parts
    if not _METHOD_RE.fullmatch(method):
        raise SipParseError("Bad method in Request-Line")
    if not _VERSION_RE.fullmatch(version):
        raise SipParseError("Bad SIP version in Request-Line")
    if _SCHEME_PREFIX_RE.match(uri_text) is None:
        raise SipParseError("Bad Request-URI")
    return Request(method, uri_text, version=version)


def _body(items: list[tuple[str, str, str]], data: bytes, start: int) -> bytes:
    lengths = {value for key, _, value in items if key == "content-length"}
    if not lengths:
        # Without Content-Length a datagram's body runs to its end (§18.3); stream
        # framers always cut messages at their Content-Length before calling us.
        return data[start:]
    if len(lengths) > 1:
        raise SipHeaderError("Content-Length", "conflicting values")
    length = parse_uint(lengths.pop(), "Content-Length", _MAX_CONTENT_LENGTH)
    if len(data) - start < length:
        raise SipHeaderError("Content-Length", "larger than the message body")
    return data[start : start + length]

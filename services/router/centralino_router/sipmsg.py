"""The router's view of SIP messages, on top of the shared SIP core (``centralino.sip``).

The core parses and serialises (grammar, URIs, addresses, Via, CSeq); the B2BUA edits
messages as a plain ordered list of ``(canonical name, value)`` pairs, which is what
building the requests and responses of two dialogs needs. Every header the core does
not interpret travels verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from centralino.sip import (
    Request,
    Response,
    SipError,
    canonical_name,
    generate_branch,
    generate_tag,
    parse_address,
    parse_message,
    parse_uri,
    parse_via,
)
from centralino.sip.grammar import split_commas

#: headers whose comma-separated values are separate entries (RFC 3261 §7.3.1)
_LIST_HEADERS = frozenset({"Via", "Route", "Record-Route", "Contact"})

#: longest message we accept on the internal listener: the SIP edge already bounds phones'
#: messages, so anything near the UDP limit is garbage rather than a legitimate request
MAX_MESSAGE = 65_535


class SipParseError(ValueError):
    """A message from the peer is not SIP we can handle; ``status`` is the answer to send."""

    def __init__(self, problem: str, status: int = 400) -> None:
        super().__init__(problem)
        self.status = status


def canonical(name: str) -> str:
    try:
        return canonical_name(name)
    except ValueError:
        raise SipParseError(f"bad header name {name!r}") from None


def split_list(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes and angle brackets."""
    try:
        return [part for part in split_commas(value) if part]
    except SipError as exc:
        raise SipParseError(str(exc), exc.status_hint) from None


def tag_of(value: str) -> str | None:
    """The ``tag`` parameter of a From/To value."""
    try:
        return parse_address(value).tag
    except SipError as exc:
        raise SipParseError(str(exc), exc.status_hint) from None


def uri_of(value: str) -> str:
    """The URI of a name-addr or addr-spec header value."""
    try:
        return str(parse_address(value).uri)
    except SipError as exc:
        raise SipParseError(str(exc), exc.status_hint) from None


def uri_user(uri: str) -> str:
    try:
        return parse_uri(uri).user or ""
    except SipError as exc:
        raise SipParseError(str(exc), exc.status_hint) from None


def uri_hostport(uri: str) -> tuple[str, int]:
    try:
        parsed = parse_uri(uri)
    except SipError as exc:
        raise SipParseError(str(exc), exc.status_hint) from None
    return parsed.host.strip("[]"), parsed.port or parsed.default_port


def new_tag() -> str:
    return generate_tag()


def new_branch() -> str:
    return generate_branch()


@dataclass(slots=True)
class SipMessage:
    """One SIP request (``method`` set) or response (``status`` set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    # -- headers -----------------------------------------------------------------

    def get(self, name: str) -> str | None:
        name = canonical(name)
        for key, value in self.headers:
            if key == name:
                return split_list(value)[0] if name in _LIST_HEADERS else value
        return None

    def get_all(self, name: str) -> list[str]:
        name = canonical(name)
        values: list[str] = []
        for key, value in self.headers:
            if key == name:
                values.extend(split_list(value) if name in _LIST_HEADERS else [value])
        return values

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError(f"missing {canonical(name)} header")
        return value

    def set(self, name: str, value: str) -> None:
        name = canonical(name)
        self.remove(name)
        self.headers.append((name, value))

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        entry = (canonical(name), value)
        if first:
            self.headers.insert(0, entry)
        else:
            self.headers.append(entry)

    def remove(self, name: str) -> None:
        name = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]

    # -- interpreted fields -------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.require("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        raw = self.require("CSeq").split()
        if len(raw) != 2 or not raw[0].isdigit():
            raise SipParseError(f"bad CSeq {self.get('CSeq')!r}")
        return int(raw[0]), raw[1].upper()

    @property
    def from_tag(self) -> str | None:
        return tag_of(self.require("From"))

    @property
    def to_tag(self) -> str | None:
        return tag_of(self.require("To"))

    @property
    def branch(self) -> str | None:
        via = self.get("Via")
        if via is None:
            return None
        try:
            return parse_via(via).branch
        except SipError as exc:
            raise SipParseError(str(exc), exc.status_hint) from None

    # -- wire format --------------------------------------------------------------

    def to_core(self) -> Request | Response:
        if self.method:
            return self.as_request()
        return Response(self.status, self.reason, self.headers, self.body)

    def as_request(self) -> Request:
        if not self.method:
            raise SipParseError("a response is not a request")
        return Request(self.method, self.uri, self.headers, self.body)

    def as_response(self) -> Response:
        if self.method:
            raise SipParseError("a request is not a response")
        return Response(self.status, self.reason, self.headers, self.body)

    def encode(self) -> bytes:
        return self.to_core().serialize()

    @classmethod
    def from_core(cls, core: Request | Response) -> SipMessage:
        headers = [(canonical(name), value) for name, value in core.headers]
        if isinstance(core, Request):
            return cls(method=core.method, uri=core.uri_text, headers=headers, body=core.body)
        return cls(status=core.status, reason=core.reason, headers=headers, body=core.body)

    @classmethod
    def parse(cls, data: bytes) -> SipMessage:
        if len(data) > MAX_MESSAGE:
            raise SipParseError(f"message of {len(data)} bytes is too large", 513)
        try:
            core = parse_message(data)
            core.validate()
        except SipError as exc:
            raise SipParseError(str(exc), exc.status_hint) from None
        return cls.from_core(core)


def response_to(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipMessage:
    """A response to ``request`` (RFC 3261 §8.2.6.2): Via, From, To, Call-ID and CSeq copied;
    Record-Route too in a dialog-forming response (§12.1.1)."""
    resp = SipMessage(status=status, reason=reason)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for key, value in request.headers:
            if key == name:
                resp.headers.append((key, value))
    if to_tag and request.to_tag is None:
        resp.headers = [(k, f"{v};tag={to_tag}" if k == "To" else v) for k, v in resp.headers]
    if 100 < status < 300 and request.method in ("INVITE", "SUBSCRIBE"):
        for key, value in request.headers:
            if key == "Record-Route":
                resp.headers.append((key, value))
    resp.headers.extend(extra or [])
    resp.body = body
    return resp

"""The SDP data model (RFC 4566) with a parser and a serialiser that keep unknown lines.

A session description is a list of ``<type>=<value>`` lines. The types whose meaning we use
(o, s, c, b, t, a, m) get typed fields; every other line (i, u, e, p, r, z, k...) is kept
verbatim, in its place, so an SDP that is parsed and serialised again loses nothing. Attributes
are kept as an ordered list of (name, value) pairs: the order of ``a=rtpmap`` lines and of
unknown attributes survives a round trip.

All classes are frozen; edit with :func:`dataclasses.replace` or the ``with_*`` helpers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from centralino.sdp.errors import SdpParseError

#: RFC 4566 §5: a body of more than this is not a phone's SDP; refuse before splitting it.
MAX_SDP_BYTES = 65536

# RFC 4566 §9: <type> is one lower-case letter, no whitespace either side of "=".
_LINE_RE = re.compile(r"^([a-z])=(.*)$")
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$")

# Session-level line order from RFC 4566 §5; lines we do not model are re-emitted in these slots.
_SESSION_ORDER = "vosiuepcbtrzkam"
_MEDIA_ORDER = "micbka"

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(frozen=True, slots=True)
class Attribute:
    """``a=<name>`` (a property attribute, value None) or ``a=<name>:<value>``."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"

    @classmethod
    def parse(cls, text: str, line_number: int | None = None) -> Attribute:
        name, sep, value = text.partition(":")
        if not name or not _TOKEN_RE.match(name):
            raise SdpParseError(f"bad attribute name in a={text!r}", line_number=line_number)
        return cls(name, value if sep else None)


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    session_id: str
    session_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )

    @classmethod
    def parse(cls, text: str, line_number: int | None = None) -> Origin:
        parts = text.split()
        if len(parts) != 6 or not parts[2].isdigit():
            raise SdpParseError(f"bad o= line {text!r}", line_number=line_number)
        return cls(parts[0], parts[1], int(parts[2]), parts[3], parts[4], parts[5])


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>`` (multicast TTL/count kept in address)."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"

    @classmethod
    def parse(cls, text: str, line_number: int | None = None) -> Connection:
        parts = text.split()
        if len(parts) != 3 or parts[1] not in ("IP4", "IP6"):
            raise SdpParseError(f"bad c= line {text!r}", line_number=line_number)
        return cls(address=parts[2], addrtype=parts[1], nettype=parts[0])

    @property
    def host(self) -> str:
        """The address without a multicast ``/ttl/count`` suffix."""
        return self.address.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` in kbit/s (AS, CT) or bit/s (RS, RR, TIAS)."""

    bwtype: str
    value: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.value}"

    @classmethod
    def parse(cls, text: str, line_number: int | None = None) -> Bandwidth:
        bwtype, sep, value = text.partition(":")
        if not sep or not bwtype or not value.isdigit():
            raise SdpParseError(f"bad b= line {text!r}", line_number=line_number)
        return cls(bwtype, int(value))


@dataclass(frozen=True, slots=True)
class Line:
    """A line we keep verbatim (``i=``, ``k=``, ``r=``...)."""

    type: str
    value: str


class _HasAttributes:
    """Attribute look-ups shared by the session and media levels."""

    __slots__ = ()
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value for a in self.attributes if a.name == name and a.value is not None]

    def has_attribute(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    @property
    def direction(self) -> str | None:
        """The last direction attribute present at this level, or None (RFC 4566 §6)."""
        found = None
        for a in self.attributes:
            if a.name in DIRECTIONS:
                found = a.name
        return found


@dataclass(frozen=True, slots=True)
class MediaDescription(_HasAttributes):
    """An ``m=`` section: ``m=<media> <port>[/<count>] <proto> <fmt> ...`` and its lines."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    other_lines: tuple[Line, ...] = field(default=())

    @property
    def rejected(self) -> bool:
        """RFC 3264 §6: port zero in an answer (or offer) declines the stream."""
        return self.port == 0

    def with_attributes(self, attributes: Iterable[Attribute]) -> MediaDescription:
        return replace(self, attributes=tuple(attributes))

    def without_attributes(self, *names: str) -> MediaDescription:
        return replace(self, attributes=tuple(a for a in self.attributes if a.name not in names))

    def with_direction(self, direction: str) -> MediaDescription:
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        kept = [a for a in self.attributes if a.name not in DIRECTIONS]
        return replace(self, attributes=(*kept, Attribute(direction)))

    def lines(self) -> list[str]:
        count = f"/{self.port_count}" if self.port_count is not None else ""
        out = [f"m={self.media} {self.port}{count} {self.proto} {' '.join(self.formats)}".rstrip()]
        out.extend(_ordered_lines(_MEDIA_ORDER[1:], self.other_lines, self._typed_lines()))
        return out

    def _typed_lines(self) -> dict[str, list[str]]:
        return {
            "c": [str(self.connection)] if self.connection else [],
            "b": [str(b) for b in self.bandwidths],
            "a": [str(a) for a in self.attributes],
        }


@dataclass(frozen=True, slots=True)
class SessionDescription(_HasAttributes):
    """A whole SDP body."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timing: tuple[str, ...] = ("0 0",)
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    other_lines: tuple[Line, ...] = ()
    version: int = 0

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """RFC 4566 §5.7: a media-level ``c=`` overrides the session-level one."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> str:
        """Media-level direction, else session-level, else ``sendrecv`` (RFC 3264 §5.1)."""
        return media.direction or self.direction or "sendrecv"

    def with_media(self, media: Iterable[MediaDescription]) -> SessionDescription:
        return replace(self, media=tuple(media))

    def serialize(self) -> bytes:
        return self.to_text().encode("utf-8")

    def to_text(self) -> str:
        typed = {
            "v": [str(self.version)],
            "o": [str(self.origin)],
            "s": [self.session_name],
            "c": [str(self.connection)] if self.connection else [],
            "b": [str(b) for b in self.bandwidths],
            "t": list(self.timing),
            "a": [str(a) for a in self.attributes],
        }
        out = _ordered_lines(_SESSION_ORDER[:-1], self.other_lines, typed)
        for m in self.media:
            out.extend(m.lines())
        return "\r\n".join(out) + "\r\n"

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        return _parse(data)


def _ordered_lines(order: str, others: tuple[Line, ...], typed: dict[str, list[str]]) -> list[str]:
    out: list[str] = []
    for t in order:
        values = typed.get(t)
        if values is None:
            values = [o.value for o in others if o.type == t]
        out.extend(f"{t}={v}" for v in values)
    # A line type outside RFC 4566's list ends its section rather than vanishing.
    out.extend(f"{o.type}={o.value}" for o in others if o.type not in order)
    return out


class _MediaBuilder:
    __slots__ = ("attributes", "bandwidths", "connection", "head", "line_number", "others")

    def __init__(self, head: str, line_number: int) -> None:
        self.head = head
        self.line_number = line_number
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.attributes: list[Attribute] = []
        self.others: list[Line] = []

    def build(self) -> MediaDescription:
        parts = self.head.split()
        if len(parts) < 3:
            raise SdpParseError(f"bad m= line {self.head!r}", line_number=self.line_number)
        port_text, _, count_text = parts[1].partition("/")
        if not port_text.isdigit() or int(port_text) > 65535:
            raise SdpParseError(f"bad port in m= line {self.head!r}", line_number=self.line_number)
        if count_text and not count_text.isdigit():
            raise SdpParseError(f"bad port count {self.head!r}", line_number=self.line_number)
        return MediaDescription(
            media=parts[0],
            port=int(port_text),
            port_count=int(count_text) if count_text else None,
            proto=parts[2],
            formats=tuple(parts[3:]),
            connection=self.connection,
            bandwidths=tuple(self.bandwidths),
            attributes=tuple(self.attributes),
            other_lines=tuple(self.others),
        )


def _parse(data: bytes | str) -> SessionDescription:
    if isinstance(data, bytes):
        if len(data) > MAX_SDP_BYTES:
            raise SdpParseError(f"SDP body of {len(data)} bytes exceeds {MAX_SDP_BYTES}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpParseError(f"SDP is not UTF-8: {exc}") from None
    else:
        text = data
        if len(text) > MAX_SDP_BYTES:
            raise SdpParseError(f"SDP body of {len(text)} characters exceeds {MAX_SDP_BYTES}")

    version: int | None = None
    origin: Origin | None = None
    session_name: str | None = None
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = []
    timing: list[str] = []
    attributes: list[Attribute] = []
    others: list[Line] = []
    media: list[MediaDescription] = []
    current: _MediaBuilder | None = None

    # RFC 4566 §5 requires CRLF but says parsers should accept a bare LF too.
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        match = _LINE_RE.match(raw.rstrip("\r"))
        if not match:
            raise SdpParseError(f"not a <type>=<value> line: {raw[:80]!r}", line_number=number)
        kind, value = match.group(1), match.group(2)
        if number == 1 and kind != "v":
            raise SdpParseError("SDP must start with v=", line_number=number)
        if kind == "m":
            if current is not None:
                media.append(current.build())
            current = _MediaBuilder(value, number)
            continue
        if current is not None:
            if kind == "c":
                current.connection = Connection.parse(value, number)
            elif kind == "b":
                current.bandwidths.append(Bandwidth.parse(value, number))
            elif kind == "a":
                current.attributes.append(Attribute.parse(value, number))
            else:
                current.others.append(Line(kind, value))
            continue
        if kind == "v":
            if value != "0":
                raise SdpParseError(f"unsupported SDP version {value!r}", line_number=number)
            version = 0
        elif kind == "o":
            origin = Origin.parse(value, number)
        elif kind == "s":
            session_name = value
        elif kind == "c":
            connection = Connection.parse(value, number)
        elif kind == "b":
            bandwidths.append(Bandwidth.parse(value, number))
        elif kind == "t":
            timing.append(value)
        elif kind == "a":
            attributes.append(Attribute.parse(value, number))
        else:
            others.append(Line(kind, value))
    if current is not None:
        media.append(current.build())

    if version is None:
        raise SdpParseError("missing v= line")
    if origin is None:
        raise SdpParseError("missing o= line")
    # RFC 4566 makes s= and t= mandatory; phones in the field omit them, so we default them.
    return SessionDescription(
        version=version,
        origin=origin,
        session_name=session_name if session_name is not None else "-",
        connection=connection,
        bandwidths=tuple(bandwidths),
        timing=tuple(timing) or ("0 0",),
        attributes=tuple(attributes),
        media=tuple(media),
        other_lines=tuple(others),
    )

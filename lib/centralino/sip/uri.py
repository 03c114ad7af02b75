"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) with the §19.1.4 comparison rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote as _pct_decode

from centralino.sip.errors import SipParseError, SipUnsupportedSchemeError
from centralino.sip.grammar import split_params

__all__ = ["SipUri", "parse_uri"]

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
# user = 1*( unreserved / escaped / user-unreserved ); password adds no ";?/" (§25.1)
_USER_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_PASSWORD_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?")
_IPV6_RE = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_HEADER_PART_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|%[0-9A-Fa-f]{2})*")
_TEL_RE = re.compile(r"\+?[0-9A-Fa-f*#\-.()pPwW]+")
_DEFAULT_PORTS = {"sip": 5060, "sips": 5061}
# §19.1.4: these parameters must match when present in either URI.
_ALWAYS_COMPARED = ("user", "ttl", "method", "maddr", "transport")


@dataclass(slots=True, eq=False)
class SipUri:
    """A ``sip:``, ``sips:`` or ``tel:`` URI.

    ``user`` and ``password`` keep their %-escapes exactly as received (re-escaping
    would change what a peer signs or compares); ``params`` maps lower-cased names to
    values (``None`` for a flag such as ``lr``) in wire order. For ``tel:`` the number
    is ``user`` and ``host`` is empty. ``==`` applies RFC 3261 §19.1.4.
    """

    scheme: str = "sip"
    user: str | None = None
    host: str = ""
    port: int | None = None
    password: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        return parse_uri(text)

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def default_port(self) -> int:
        return _DEFAULT_PORTS.get(self.scheme, 5060)

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    def copy(self) -> SipUri:
        return SipUri(
            self.scheme,
            self.user,
            self.host,
            self.port,
            self.password,
            dict(self.params),
            list(self.headers),
        )

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += (":", self.password)
            if self.host:
                parts.append("@")
        parts.append(self.host)
        if self.port is not None:
            parts += (":", str(self.port))
        for name, value in self.params.items():
            parts += (";", name) if value is None else (";", name, "=", value)
        if self.headers:
            parts.append("?")
            parts.append("&".join(f"{n}={v}" for n, v in self.headers))
        return "".join(parts)

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        if self.scheme != other.scheme:
            return False
        # userinfo is compared case-sensitively after unescaping; the rest is not.
        if _decode(self.user) != _decode(other.user):
            return False
        if _decode(self.password) != _decode(other.password):
            return False
        if self.host.lower() != other.host.lower() or self.port != other.port:
            return False
        for name in set(self.params) | set(other.params):
            mine, theirs = self.params.get(name, _ABSENT), other.params.get(name, _ABSENT)
            if mine is _ABSENT or theirs is _ABSENT:
                if name in _ALWAYS_COMPARED:
                    return False
                continue
            if _fold(mine) != _fold(theirs):
                return False
        mine_h = {n.lower(): _fold(v) for n, v in self.headers}
        theirs_h = {n.lower(): _fold(v) for n, v in other.headers}
        return mine_h == theirs_h

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by RFC rules


_ABSENT = object()


def _decode(text: str | None) -> str | None:
    return None if text is None else _pct_decode(text, errors="surrogateescape")


def _fold(value: object) -> object:
    return _pct_decode(value).lower() if isinstance(value, str) else value


def parse_uri(text: str) -> SipUri:
    """Parse a SIP/SIPS/tel URI; raise ``SipParseError`` (or 416's subclass) if invalid."""
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise SipParseError(f"Bad URI {text!r}")
    scheme = scheme.lower()
    if scheme == "tel":
        return _parse_tel(rest, text)
    if scheme not in _DEFAULT_PORTS:
        raise SipUnsupportedSchemeError(scheme)
    uri = SipUri(scheme)
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user, colon, password = userinfo.partition(":")
        if not _USER_RE.fullmatch(user) or not _PASSWORD_RE.fullmatch(password):
            raise SipParseError(f"Bad userinfo in URI {text!r}")
        uri.user = user
        uri.password = password if colon else None
    rest, question, header_text = rest.partition("?")
    hostport, semi, param_text = rest.partition(";")
    _parse_hostport(uri, hostport, text)
    if semi:
        try:
            uri.params = dict(split_params(param_text, "URI", uri=True))
        except ValueError as exc:
            raise SipParseError(f"Bad URI {text!r}: {exc}") from None
    if question:
        for item in header_text.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq or not _HEADER_PART_RE.fullmatch(name + value):
                raise SipParseError(f"Bad header in URI {text!r}")
            uri.headers.append((name, value))
    return uri


def _parse_hostport(uri: SipUri, hostport: str, text: str) -> None:
    if hostport.startswith("["):
        end = hostport.find("]")
        host, port_text = hostport[: end + 1], hostport[end + 1 :]
        if end < 0 or not _IPV6_RE.fullmatch(host):
            raise SipParseError(f"Bad IPv6 reference in URI {text!r}")
    else:
        host, colon, port_digits = hostport.partition(":")
        port_text = ":" + port_digits if colon else ""
        if not _HOSTNAME_RE.fullmatch(host):
            raise SipParseError(f"Bad host in URI {text!r}")
    if port_text:
        if port_text[0] != ":" or not _PORT_RE.fullmatch(port_text[1:]):
            raise SipParseError(f"Bad port in URI {text!r}")
        port = int(port_text[1:])
        if port > 65535:
            raise SipParseError(f"Port out of range in URI {text!r}")
        uri.port = port
    uri.host = host


def _parse_tel(rest: str, text: str) -> SipUri:
    number, semi, param_text = rest.partition(";")
    if not _TEL_RE.fullmatch(number):
        raise SipParseError(f"Bad tel URI {text!r}")
    uri = SipUri("tel", user=number)
    if semi:
        try:
            uri.params = dict(split_params(param_text, "tel URI", uri=True))
        except ValueError as exc:
            raise SipParseError(f"Bad URI {text!r}: {exc}") from None
    return uri

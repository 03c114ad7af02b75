"""ENUM (FEAT-07, RFC 6116): E.164 number -> NAPTR lookup -> ``sip:`` URI, or None.

Only terminal (flag ``u``) records whose services include ``E2U+sip`` are used, in
order/preference order (RFC 3403); the first whose regexp (RFC 3402 ``!ere!repl!flags``)
matches the number and yields a ``sip:``/``sips:`` URI wins. Any DNS failure or garbage
answer means "no ENUM result": the caller falls back to the trunk route.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.rdatatype

_E164 = re.compile(r"^\+[0-9]{1,15}$")
_BACKREF = re.compile(r"\\([0-9])")
DEFAULT_SUFFIX = "e164.arpa"


class EnumError(ValueError):
    """The number is not E.164 or a NAPTR regexp is malformed."""


def enum_domain(e164: str, suffix: str = DEFAULT_SUFFIX) -> str:
    """``+4961234`` -> ``4.3.2.1.6.9.4.e164.arpa.`` (RFC 6116 section 2.4)."""
    if not _E164.match(e164):
        raise EnumError(f"{e164!r} is not an E.164 number (+ and up to 15 digits)")
    return ".".join(reversed(e164[1:])) + "." + suffix.strip(".") + "."


@dataclass(frozen=True, slots=True)
class Naptr:
    order: int
    preference: int
    flags: str
    services: str
    regexp: str


def apply_regexp(regexp: str, aus: str) -> str | None:
    """Apply an RFC 3402 substitution expression to the application unique string."""
    if len(regexp) < 3:
        raise EnumError(f"NAPTR regexp {regexp!r} is too short")
    delim = regexp[0]
    if delim.isalnum() or delim == "\\":
        raise EnumError(f"NAPTR regexp {regexp!r}: bad delimiter {delim!r}")
    parts = regexp[1:].split(delim)
    if len(parts) != 3 or parts[2] not in {"", "i"}:
        raise EnumError(f"NAPTR regexp {regexp!r} is not !ere!repl!flags")
    ere, repl, flags = parts
    try:
        pattern = re.compile(ere, re.IGNORECASE if flags else 0)
    except re.error as exc:
        raise EnumError(f"NAPTR regexp {regexp!r}: {exc}") from exc
    match = pattern.search(aus)
    if match is None:
        return None

    def backref(m: re.Match[str]) -> str:
        index = int(m.group(1))
        if index > (pattern.groups or 0):
            raise EnumError(f"NAPTR regexp {regexp!r}: no group {index}")
        return (match.group(index) or "") if index else match.group(0)

    return _BACKREF.sub(backref, repl)


def choose_sip_uri(records: Iterable[Naptr], e164: str) -> str | None:
    """The best ``E2U+sip`` terminal record's URI, skipping unusable ones."""
    ordered = sorted(records, key=lambda r: (r.order, r.preference))
    for record in ordered:
        # RFC 6116: "E2U" 1*("+" type [":" subtype])
        tag, *enumservices = record.services.lower().split("+")
        types = {service.split(":")[0] for service in enumservices}
        if record.flags.lower() != "u" or tag != "e2u" or "sip" not in types:
            continue
        try:
            uri = apply_regexp(record.regexp, e164)
        except EnumError:
            continue
        if uri is not None and uri.lower().startswith(("sip:", "sips:")):
            return uri
    return None


class EnumResolver:
    """Async NAPTR lookups in a configurable ENUM suffix."""

    def __init__(
        self,
        suffix: str = DEFAULT_SUFFIX,
        nameservers: list[str] | None = None,
        port: int = 53,
        timeout: float = 2.0,
    ) -> None:
        self.suffix = suffix
        resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            resolver.nameservers = nameservers
        resolver.port = port
        resolver.lifetime = timeout
        self._resolver = resolver

    async def lookup(self, e164: str) -> str | None:
        """The SIP URI to call directly, or None to use the trunk route."""
        name = enum_domain(e164, self.suffix)
        try:
            answer = await self._resolver.resolve(name, dns.rdatatype.NAPTR)
        except dns.exception.DNSException:
            return None
        records = [
            Naptr(
                order=rr.order,
                preference=rr.preference,
                flags=rr.flags.decode("ascii", "replace"),
                services=rr.service.decode("ascii", "replace"),
                regexp=rr.regexp.decode("utf-8", "replace"),
            )
            for rr in answer
        ]
        return choose_sip_uri(records, e164)

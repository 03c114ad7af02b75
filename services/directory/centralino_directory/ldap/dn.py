"""Distinguished names (RFC 4514): parsing into comparable form and escaping values.

Parsing goes through ldap3's DN parser; values are then unescaped and compared
case-insensitively, which is right for every naming attribute this server uses
(dc, o, ou, uid are all caseIgnoreMatch).
"""

from __future__ import annotations

import re

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import escape_rdn, parse_dn

from centralino_directory.ldap.errors import LdapOperationError, ResultCode
from centralino_directory.ldap.schema import canonical_attribute

#: one RDN as (attribute type, value), both normalised
Rdn = tuple[str, str]
#: a DN as its RDNs, most specific first
Dn = tuple[Rdn, ...]

_HEX_ESCAPES = re.compile(rb"(?:\\[0-9A-Fa-f]{2})+")


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    raw = value.encode("utf-8")
    # Hex pairs may encode multi-byte UTF-8 characters, so decode runs of them together.
    raw = _HEX_ESCAPES.sub(lambda m: bytes.fromhex(m.group().replace(b"\\", b"").decode()), raw)
    raw = re.sub(rb"\\(.)", rb"\1", raw)
    return raw.decode("utf-8", errors="strict")


def parse(dn: str) -> Dn:
    """Normalise ``dn``; the empty string is the root DSE. Multi-valued RDNs are not
    used by this server, so ``+`` is rejected rather than half-supported."""
    if not dn.strip():
        return ()
    try:
        parts = parse_dn(dn, strip=True)
        rdns: list[Rdn] = []
        for attr, value, separator in parts:
            if separator == "+":
                raise LdapOperationError(
                    ResultCode.INVALID_DN_SYNTAX, f"multi-valued RDNs are not supported: {dn!r}"
                )
            rdns.append((canonical_attribute(attr).lower(), _unescape(value).casefold()))
    except (LDAPInvalidDnError, UnicodeDecodeError, ValueError) as exc:
        raise LdapOperationError(
            ResultCode.INVALID_DN_SYNTAX, f"invalid DN {dn!r}: {exc}"
        ) from None
    return tuple(rdns)


def rdn(attribute: str, value: str) -> str:
    return f"{attribute}={escape_rdn(value)}"


def is_under(child: Dn, parent: Dn) -> bool:
    """True when ``child`` is ``parent`` or below it."""
    return len(child) >= len(parent) and child[len(child) - len(parent) :] == parent

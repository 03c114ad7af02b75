"""Search filters (RFC 4511 §4.5.1.7): a typed tree built from the decoded PDU, and its
three-valued evaluation (TRUE, FALSE, Undefined = None) against an entry.

The forms phones send are all here: equality, substrings, presence, and/or/not, plus
ordering and approximate matches. Extensible matches evaluate to Undefined: no matching
rules beyond the attribute's own are implemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyasn1.error import PyAsn1Error

from centralino_directory.ldap.errors import LdapOperationError, LdapProtocolError, ResultCode
from centralino_directory.ldap.schema import LdapEntry, canonical_attribute, normalise

#: Phones send filters two or three levels deep; a far deeper one is an attack on the stack.
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


@dataclass(frozen=True, slots=True)
class Equality:
    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class Approx:
    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class GreaterOrEqual:
    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class LessOrEqual:
    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class Substrings:
    attribute: str
    initial: str | None
    any: tuple[str, ...]
    final: str | None


@dataclass(frozen=True, slots=True)
class Present:
    attribute: str


@dataclass(frozen=True, slots=True)
class Extensible:
    attribute: str | None
    rule: str | None
    value: str


Filter = (
    And | Or | Not | Equality | Approx | GreaterOrEqual | LessOrEqual | Substrings | Present
) | Extensible


def _text(value: Any, what: str) -> str:
    try:
        return bytes(value.asOctets()).decode("utf-8")
    except UnicodeDecodeError:
        raise LdapProtocolError(f"{what} is not UTF-8") from None


def from_asn1(node: Any, depth: int = 0) -> Filter:
    """Convert an ``ldap3.protocol.rfc4511.Filter`` into the typed tree."""
    if depth > MAX_DEPTH:
        raise LdapOperationError(
            ResultCode.UNWILLING_TO_PERFORM, f"filter nested deeper than {MAX_DEPTH} levels"
        )
    try:
        kind = node.getName()
        inner = node.getComponent()
    except PyAsn1Error as exc:
        raise LdapProtocolError(f"malformed filter: {exc}") from None
    match kind:
        case "and" | "or":
            items = tuple(from_asn1(f, depth + 1) for f in inner)
            if not items:
                raise LdapProtocolError(f"empty {kind} filter")
            return And(items) if kind == "and" else Or(items)
        case "notFilter":
            return Not(from_asn1(inner["innerNotFilter"], depth + 1))
        case "equalityMatch" | "approxMatch" | "greaterOrEqual" | "lessOrEqual":
            attr = canonical_attribute(_text(inner["attributeDesc"], "attribute"))
            value = _text(inner["assertionValue"], "assertion value")
            if kind == "equalityMatch":
                return Equality(attr, value)
            if kind == "approxMatch":
                return Approx(attr, value)
            if kind == "greaterOrEqual":
                return GreaterOrEqual(attr, value)
            return LessOrEqual(attr, value)
        case "substringFilter":
            attr = canonical_attribute(_text(inner["type"], "attribute"))
            initial: str | None = None
            final: str | None = None
            anys: list[str] = []
            for part in inner["substrings"]:
                name = part.getName()
                text = _text(part.getComponent(), "substring")
                if name == "initial":
                    if initial is not None or anys or final is not None:
                        raise LdapProtocolError("substring 'initial' must come first, once")
                    initial = text
                elif name == "any":
                    if final is not None:
                        raise LdapProtocolError("substring 'any' after 'final'")
                    anys.append(text)
                else:
                    if final is not None:
                        raise LdapProtocolError("substring 'final' given twice")
                    final = text
            return Substrings(attr, initial, tuple(anys), final)
        case "present":
            return Present(canonical_attribute(_text(inner, "attribute")))
        case "extensibleMatch":
            attr = inner["type"]
            rule = inner["matchingRule"]
            return Extensible(
                attribute=canonical_attribute(_text(attr, "attribute")) if attr.isValue else None,
                rule=_text(rule, "matching rule") if rule.isValue else None,
                value=_text(inner["matchValue"], "match value"),
            )
    raise LdapProtocolError(f"unknown filter choice {kind!r}")


def _substring_match(value: str, f: Substrings) -> bool:
    pos = 0
    if f.initial is not None:
        initial = normalise(f.attribute, f.initial)
        if not value.startswith(initial):
            return False
        pos = len(initial)
    for part in f.any:
        found = value.find(normalise(f.attribute, part), pos)
        if found < 0:
            return False
        pos = found + len(normalise(f.attribute, part))
    if f.final is not None:
        final = normalise(f.attribute, f.final)
        return value.endswith(final) and len(value) - len(final) >= pos
    return True


def evaluate(f: Filter, entry: LdapEntry) -> bool | None:
    """TRUE, FALSE or Undefined (None) as RFC 4511 §4.5.1.7 defines them."""
    match f:
        case And(items):
            result: bool | None = True
            for item in items:
                r = evaluate(item, entry)
                if r is False:
                    return False
                if r is None:
                    result = None
            return result
        case Or(items):
            result = False
            for item in items:
                r = evaluate(item, entry)
                if r is True:
                    return True
                if r is None:
                    result = None
            return result
        case Not(item):
            r = evaluate(item, entry)
            return None if r is None else not r
        case Present(attribute):
            return entry.values(attribute) is not None
        case Extensible():
            return None
    values = entry.values(f.attribute)
    if values is None:
        return False
    normalised = [normalise(f.attribute, v) for v in values]
    match f:
        case Equality(attribute, value) | Approx(attribute, value):
            return normalise(attribute, value) in normalised
        case GreaterOrEqual(attribute, value):
            return any(v >= normalise(attribute, value) for v in normalised)
        case LessOrEqual(attribute, value):
            return any(v <= normalise(attribute, value) for v in normalised)
        case Substrings():
            return any(_substring_match(v, f) for v in normalised)
    raise AssertionError(f"unhandled filter {f!r}")

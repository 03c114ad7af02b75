"""Make ldap3's recursive RFC 4511 ``Filter`` definition decodable by pyasn1 0.6.

ldap3 defines ``Filter`` before it can say what ``and``/``or``/``not`` contain (they
contain filters) and fills that in afterwards by assigning class attributes. pyasn1
copies ``componentType`` and ``tagSet`` into each *instance* when it is created, so the
instances already inside ``Filter`` keep the empty placeholders: an ``(|(a=1)(b=2))``
fails to decode ("Read 4 bytes instead of expected 7") and ``(!(a=1))`` is not
recognised at all. ldap3's client only ever *encodes* filters, which is why nobody
notices there.

:func:`repair` rebuilds the choice list from the completed classes and points every
``Filter`` instance ldap3 created at it, so the one shared definition becomes properly
recursive. It is idempotent; the server calls it once at import.
"""

from __future__ import annotations

from typing import Any

from ldap3.protocol import rfc4511 as asn
from pyasn1.type.namedtype import NamedType, NamedTypes

_repaired = False


def _point_at(instance: Any, component_type: Any) -> None:
    # pyasn1 guards these attributes against assignment; they live in two places.
    instance.__dict__["componentType"] = component_type
    instance._readOnly["componentType"] = component_type


def repair() -> None:
    global _repaired
    if _repaired:
        return
    old: NamedTypes = asn.Filter.componentType
    fresh = {"and": asn.And(), "or": asn.Or(), "notFilter": asn.Not()}
    choices = NamedTypes(
        *(NamedType(nt.name, fresh.get(nt.name, nt.asn1Object)) for nt in old.namedTypes)
    )
    filters = [
        asn.And.componentType,
        asn.Or.componentType,
        dict(asn.Not.componentType.items())["innerNotFilter"],
        dict(asn.SearchRequest.componentType.items())["filter"],
    ]
    for f in filters:
        _point_at(f, choices)
    asn.Filter.componentType = choices
    _repaired = True

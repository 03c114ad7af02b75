"""Turning an external directory's entry into a contact: pure functions."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from centralino_directory.ldapimport.config import ImportSource
from centralino_directory.phonebook.contacts import Contact


def _values(attributes: Mapping[str, Any], name: str) -> list[Any]:
    # ldap3 gives lists without schema and scalars with it; attribute names vary in case.
    for key, value in attributes.items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return list(value)
            return [value]
    return []


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").strip()
        except UnicodeDecodeError:
            return ""
    return str(value).strip()


def entry_key(source: ImportSource, dn: str, raw_attributes: Mapping[str, Any]) -> str:
    """A stable, id-safe key for an entry: its key attribute, else a hash of its DN."""
    if source.key_attribute != "dn":
        for raw in _values(raw_attributes, source.key_attribute):
            data = raw if isinstance(raw, bytes) else str(raw).encode()
            # entryUUID is printable; AD's objectGUID is 16 raw bytes.
            text = data.decode("ascii", "replace")
            if data and text.isprintable() and "\ufffd" not in text:
                return text.lower()
            if data:
                return data.hex()
    return hashlib.sha256(dn.lower().encode()).hexdigest()[:24]


def to_contact(source: ImportSource, key: str, attributes: Mapping[str, Any]) -> Contact | None:
    """The contact for one entry; None unless it has both a name and a number."""
    fields: dict[str, str] = {}
    for field_name, candidates in source.mapping.items():
        for attribute in candidates:
            texts = [t for t in (_text(v) for v in _values(attributes, attribute)) if t]
            if texts:
                fields[field_name] = texts[0]
                break
    contact = Contact(id=f"ldap-{source.name}-{key}", source=source.source_name, **fields)
    has_name = contact.display_name or contact.first_name or contact.last_name
    has_number = contact.telephone_number or contact.mobile
    return contact if has_name and has_number else None


def newest_timestamp(stamps: Sequence[str]) -> str | None:
    """The latest GeneralizedTime; they compare as text when in the same (UTC) form."""
    valid = [s for s in stamps if s]
    return max(valid) if valid else None

"""Configuration of one external directory to import contacts from (FEAT-10)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Contact field → LDAP attributes to read it from, first non-empty wins. The defaults
#: cover OpenLDAP's inetOrgPerson and Active Directory's user objects.
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "first_name": ("givenName",),
    "last_name": ("sn",),
    "display_name": ("displayName", "cn"),
    "telephone_number": ("telephoneNumber", "ipPhone"),
    "mobile": ("mobile",),
    "mail": ("mail",),
    "organisation": ("o", "company"),
    "department": ("ou", "department"),
}


# Names end up in NATS subjects and contact ids: keep them to subject-token characters.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")


class ImportConfigError(ValueError):
    """An import source is configured wrongly; the message names the source and field."""

    def __init__(self, source: str, field_name: str, problem: str) -> None:
        super().__init__(f"directory import {source!r}: {field_name}: {problem}")
        self.source = source
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ImportSource:
    name: str
    tenant: str
    url: str  # ldap://host:389 or ldaps://host:636
    base: str
    bind_dn: str = ""
    password: str = field(default="", repr=False)
    filter: str = "(objectClass=inetOrgPerson)"
    mapping: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    start_tls: bool = False
    ca_file: str = ""  # PEM bundle to verify the server with; empty: system store
    verify_tls: bool = True
    #: attribute that identifies an entry across renames; "dn" uses the DN itself
    key_attribute: str = "entryUUID"
    interval_seconds: float = 3600.0
    page_size: int = 500
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        def bad(field_name: str, problem: str) -> ImportConfigError:
            return ImportConfigError(self.name or "?", field_name, problem)

        for field_name, value in (("name", self.name), ("tenant", self.tenant)):
            if not _TOKEN.match(value):
                raise bad(field_name, f"use letters, digits, '-' or '_', got {value!r}")
        parts = urlsplit(self.url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise bad(
                "url", f"expected ldap://host[:port] or ldaps://host[:port], got {self.url!r}"
            )
        if parts.scheme == "ldaps" and self.start_tls:
            raise bad("start_tls", "StartTLS makes no sense on an ldaps:// URL")
        if not self.base:
            raise bad("base", "a search base is required")
        if not (self.filter.startswith("(") and self.filter.endswith(")")):
            raise bad("filter", f"an LDAP filter is parenthesised, got {self.filter!r}")
        if bool(self.bind_dn) != bool(self.password):
            raise bad("bind_dn/password", "give both for a simple bind, or neither for anonymous")
        unknown = set(self.mapping) - set(DEFAULT_MAPPING)
        if unknown:
            raise bad("mapping", f"unknown contact fields {sorted(unknown)}")
        if self.interval_seconds < 10:
            raise bad("interval_seconds", "must be at least 10")
        if not 1 <= self.page_size <= 10_000:
            raise bad("page_size", "must be within 1..10000")

    @property
    def source_name(self) -> str:
        """The store's source name for contacts from this import."""
        return f"ldap:{self.name}"

    @property
    def tls(self) -> bool:
        return self.start_tls or self.url.startswith("ldaps://")

    def attributes(self) -> list[str]:
        names = {a for attrs in self.mapping.values() for a in attrs}
        if self.key_attribute != "dn":
            names.add(self.key_attribute)
        return sorted(names)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ImportSource:
        name = str(doc.get("name", "?"))
        known = set(cls.__dataclass_fields__)
        unknown = set(doc) - known
        if unknown:
            raise ImportConfigError(name, "keys", f"unknown keys {sorted(unknown)}")
        kwargs = dict(doc)
        if "mapping" in kwargs:
            mapping = kwargs["mapping"]
            if not isinstance(mapping, Mapping):
                raise ImportConfigError(name, "mapping", "expected an object")
            merged = dict(DEFAULT_MAPPING)
            for key, attrs in mapping.items():
                merged[key] = (attrs,) if isinstance(attrs, str) else tuple(attrs)
            kwargs["mapping"] = merged
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ImportConfigError(name, "keys", str(exc)) from None


def load_sources(path: Path) -> list[ImportSource]:
    """Read a JSON list of import sources; names must be unique."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportConfigError("*", str(path), f"cannot read: {exc}") from None
    if not isinstance(doc, list):
        raise ImportConfigError("*", str(path), "expected a JSON list of sources")
    sources = [ImportSource.from_dict(d) for d in doc]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ImportConfigError("*", "name", "import source names must be unique")
    return sources

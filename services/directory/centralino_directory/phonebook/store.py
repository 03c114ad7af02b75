"""The directory's in-memory model: per tenant, extension records and contacts by source.

Sans-IO: loaders (config-api, LDAP imports, the local phonebook) feed it; the LDAP server,
gRPC search and SNMP read it. Every mutation returns what changed so callers can log or
report it. One asyncio loop owns it; there is no locking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from centralino_directory.phonebook.contacts import Contact, ContactSource
from centralino_directory.phonebook.publication import (
    ExtensionRecord,
    PublicationRule,
    publish,
)


@dataclass(frozen=True, slots=True)
class ContactChanges:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def __str__(self) -> str:
        return f"+{len(self.added)} ~{len(self.updated)} -{len(self.removed)}"


def diff(old: dict[str, Contact], new: dict[str, Contact]) -> ContactChanges:
    return ContactChanges(
        added=tuple(sorted(k for k in new if k not in old)),
        updated=tuple(sorted(k for k in new if k in old and old[k] != new[k])),
        removed=tuple(sorted(k for k in old if k not in new)),
    )


@dataclass
class _Tenant:
    rule: PublicationRule = field(default_factory=PublicationRule)
    extensions: dict[str, ExtensionRecord] = field(default_factory=dict)
    phonebook: dict[str, Contact] = field(default_factory=dict)  # extensions, PB-01
    ldap: dict[str, Contact] = field(default_factory=dict)  # extensions, PB-03..08
    # other sources ("local", "ldap:<name>") → contact id → contact
    sources: dict[str, dict[str, Contact]] = field(default_factory=dict)


class DirectoryStore:
    def __init__(self, default_rule: PublicationRule | None = None) -> None:
        #: the general publication rule of a tenant that has not set its own
        self.default_rule = default_rule or PublicationRule()
        self._tenants: dict[str, _Tenant] = {}

    def _tenant(self, tenant: str) -> _Tenant:
        t = self._tenants.get(tenant)
        if t is None:
            t = self._tenants[tenant] = _Tenant(rule=self.default_rule)
        return t

    def tenants(self) -> list[str]:
        return sorted(self._tenants)

    def has_tenant(self, tenant: str) -> bool:
        return tenant in self._tenants

    # --- extensions -------------------------------------------------------------------

    def set_rule(self, tenant: str, rule: PublicationRule) -> None:
        """Change the general publication rule; every extension is published again."""
        t = self._tenant(tenant)
        t.rule = rule
        for ext in t.extensions.values():
            self._publish(t, ext)

    def rule(self, tenant: str) -> PublicationRule:
        return self._tenant(tenant).rule

    def put_extension(self, ext: ExtensionRecord) -> None:
        t = self._tenant(ext.tenant)
        t.extensions[ext.number] = ext
        self._publish(t, ext)

    def remove_extension(self, tenant: str, number: str) -> bool:
        t = self._tenants.get(tenant)
        if t is None or number not in t.extensions:
            return False
        ext = t.extensions.pop(number)
        t.phonebook.pop(ext.contact_id, None)
        t.ldap.pop(ext.contact_id, None)
        return True

    def replace_extensions(self, tenant: str, records: Iterable[ExtensionRecord]) -> None:
        """A full reload from config-api: extensions not listed any more are dropped."""
        t = self._tenant(tenant)
        t.extensions.clear()
        t.phonebook.clear()
        t.ldap.clear()
        for ext in records:
            if ext.tenant != tenant:
                raise ValueError(
                    f"extension {ext.number} belongs to {ext.tenant!r}, not {tenant!r}"
                )
            t.extensions[ext.number] = ext
            self._publish(t, ext)

    def ldap_entry_count(self) -> int:
        """Contacts the LDAP server publishes, over all tenants."""
        return sum(len(self.ldap_contacts(t)) for t in self._tenants)

    def extension_count(self, tenant: str) -> int:
        t = self._tenants.get(tenant)
        return len(t.extensions) if t else 0

    @staticmethod
    def _publish(t: _Tenant, ext: ExtensionRecord) -> None:
        pub = publish(ext, t.rule)
        for view, contact in ((t.phonebook, pub.phonebook), (t.ldap, pub.ldap)):
            if contact is None:
                view.pop(ext.contact_id, None)
            else:
                view[contact.id] = contact

    # --- other sources ----------------------------------------------------------------

    def replace_contacts(
        self, tenant: str, source: str, contacts: Iterable[Contact]
    ) -> ContactChanges:
        """Replace everything ``source`` contributed to ``tenant``; returns the difference."""
        if source == ContactSource.EXTENSION.value:
            raise ValueError("extension contacts come from extension records, not a source")
        new: dict[str, Contact] = {}
        for c in contacts:
            if c.source != source:
                raise ValueError(f"contact {c.id!r} has source {c.source!r}, not {source!r}")
            if c.id in new:
                raise ValueError(f"duplicate contact id {c.id!r} in source {source!r}")
            new[c.id] = c
        t = self._tenant(tenant)
        old = t.sources.get(source, {})
        t.sources[source] = new
        return diff(old, new)

    def source_contacts(self, tenant: str, source: str) -> list[Contact]:
        t = self._tenants.get(tenant)
        if t is None:
            return []
        return list(t.sources.get(source, {}).values())

    # --- views ------------------------------------------------------------------------

    def _others(self, t: _Tenant) -> list[Contact]:
        return [c for source in sorted(t.sources) for c in t.sources[source].values()]

    def ldap_contacts(self, tenant: str) -> list[Contact]:
        """What the LDAP server publishes: LDAP-published extensions, then the others."""
        t = self._tenants.get(tenant)
        if t is None:
            return []
        return [*t.ldap.values(), *self._others(t)]

    def phonebook_contacts(self, tenant: str) -> list[Contact]:
        """The extensions phonebook (PB-01) plus local and imported contacts."""
        t = self._tenants.get(tenant)
        if t is None:
            return []
        return [*t.phonebook.values(), *self._others(t)]

    def search(self, tenant: str, query: str, limit: int = 0) -> list[Contact]:
        found = [c for c in self.phonebook_contacts(tenant) if c.matches(query)]
        found.sort(key=lambda c: (c.name.casefold(), c.id))
        return found[:limit] if limit > 0 else found

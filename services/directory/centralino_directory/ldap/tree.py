"""The directory information tree the LDAP server serves, built from the store:

    dc=centralino                                   (the suffix)
      o=<tenant>,dc=centralino                      (one per tenant)
        ou=phonebook,o=<tenant>,dc=centralino       (the tenant's phonebook base DN)
          uid=<contact id>,ou=phonebook,...         (inetOrgPerson, one per contact)

plus the root DSE (the empty DN) that clients read to discover the naming context,
supported controls and extensions.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum

from centralino_directory.ldap import dn as dnmod
from centralino_directory.ldap.errors import LdapOperationError, ResultCode
from centralino_directory.ldap.schema import LdapEntry, contact_entry
from centralino_directory.phonebook.store import DirectoryStore

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
WHO_AM_I_OID = "1.3.6.1.4.1.4203.1.11.3"
DEFAULT_SUFFIX = "dc=centralino"


class Scope(IntEnum):
    BASE = 0
    ONE = 1
    SUB = 2


class PhonebookTree:
    """Read-only view of ``store`` as an LDAP tree. ``tenants`` restricts what a bound
    user sees (None: every tenant)."""

    def __init__(self, store: DirectoryStore, suffix: str = DEFAULT_SUFFIX) -> None:
        self.store = store
        self.suffix = suffix
        self._suffix_dn = dnmod.parse(suffix)
        if not self._suffix_dn or self._suffix_dn[0][0] not in {"dc", "o"}:
            raise ValueError(f"LDAP suffix must start with dc= or o=, got {suffix!r}")

    def tenant_base(self, tenant: str) -> str:
        return f"ou=phonebook,{dnmod.rdn('o', tenant)},{self.suffix}"

    def root_dse(self) -> LdapEntry:
        return LdapEntry(
            dn="",
            attributes={
                "objectClass": ("top",),
                "namingContexts": (self.suffix,),
                "supportedLDAPVersion": ("3",),
                "supportedControl": (PAGED_RESULTS_OID,),
                "supportedExtension": (WHO_AM_I_OID,),
                "vendorName": ("Centralino",),
            },
        )

    def _entries(self, tenants: frozenset[str] | None) -> Iterator[tuple[dnmod.Dn, LdapEntry]]:
        """Every entry with its parsed DN, in tree order (parents before children).
        DNs are built in normalised form directly: parsing each one back is the slow part
        of a search."""
        attr, value = self._suffix_dn[0]
        yield (
            self._suffix_dn,
            LdapEntry(
                dn=self.suffix,
                attributes={
                    "objectClass": ("top", "domain" if attr == "dc" else "organization"),
                    attr: (value,),
                },
            ),
        )
        for tenant in self.store.tenants():
            if tenants is not None and tenant not in tenants:
                continue
            tenant_dn = (("o", tenant.casefold()), *self._suffix_dn)
            yield (
                tenant_dn,
                LdapEntry(
                    dn=f"{dnmod.rdn('o', tenant)},{self.suffix}",
                    attributes={"objectClass": ("top", "organization"), "o": (tenant,)},
                ),
            )
            base_dn = (("ou", "phonebook"), *tenant_dn)
            base = self.tenant_base(tenant)
            yield (
                base_dn,
                LdapEntry(
                    dn=base,
                    attributes={"objectClass": ("top", "organizationalUnit"), "ou": ("phonebook",)},
                ),
            )
            for contact in self.store.ldap_contacts(tenant):
                yield (
                    (("uid", contact.id.casefold()), *base_dn),
                    contact_entry(f"{dnmod.rdn('uid', contact.id)},{base}", contact),
                )

    def search(
        self, base: str, scope: Scope, tenants: frozenset[str] | None
    ) -> Iterator[LdapEntry]:
        """Entries in scope of ``base``; raises noSuchObject when ``base`` does not exist
        (or is hidden from this user, which must look the same)."""
        base_dn = dnmod.parse(base)
        if not base_dn and scope is Scope.BASE:
            yield self.root_dse()
            return
        found = False
        best_match = ""
        best_len = -1
        for entry_dn, entry in self._entries(tenants):
            if dnmod.is_under(base_dn, entry_dn) and len(entry_dn) > best_len:
                best_match, best_len = entry.dn, len(entry_dn)
            if not dnmod.is_under(entry_dn, base_dn):
                continue
            depth = len(entry_dn) - len(base_dn)
            if depth == 0:
                found = True
            if (
                (scope is Scope.BASE and depth == 0)
                or (scope is Scope.ONE and depth == 1)
                or scope is Scope.SUB
            ):
                yield entry
        if not found and base_dn:
            raise LdapOperationError(
                ResultCode.NO_SUCH_OBJECT, f"no entry {base!r}", matched_dn=best_match
            )

"""Shared fixtures for the directory service tests: a populated store and a running
LDAP server on an ephemeral loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from centralino_directory.ldap import BindUser, Credentials, LdapServer, PhonebookTree
from centralino_directory.phonebook import (
    Contact,
    DirectoryStore,
    ExtensionRecord,
    PublicationMode,
    PublicationRule,
)

PHONES_DN = "cn=phones,o=demo,dc=centralino"
PHONES_PASSWORD = "phones-secret"
ADMIN_DN = "cn=admin,dc=centralino"
ADMIN_PASSWORD = "admin-secret"
DEMO_BASE = "ou=phonebook,o=demo,dc=centralino"


def populate(store: DirectoryStore) -> None:
    store.set_rule("demo", PublicationRule("+39 02 5555 {extension}"))
    store.put_extension(
        ExtensionRecord(
            tenant="demo",
            number="201",
            first_name="John",
            last_name="Smith",
            mail="john.smith@example.com",
            mobile="+39 333 1234567",
            organisation="ACME",
            department="Sales",
        )
    )
    store.put_extension(
        ExtensionRecord(
            tenant="demo",
            number="202",
            first_name="Anna",
            last_name="Rossi",
            ldap_mode=PublicationMode.NUMBER,
            custom_ldap_number="0298765",
        )
    )
    store.put_extension(
        ExtensionRecord(
            tenant="demo",
            number="203",
            first_name="Secret",
            last_name="Agent",
            ldap_mode=PublicationMode.DISABLED,
        )
    )
    store.put_extension(
        ExtensionRecord(
            tenant="demo",
            number="204",
            first_name="Marco",
            last_name="Smithers",
            ldap_mode=PublicationMode.RULE_EXTENSION,
            custom_ldap_extension="200",
            show_in_phonebook=False,
        )
    )
    store.replace_contacts(
        "demo",
        "local",
        [
            Contact(
                id="local-1",
                source="local",
                display_name="Pizzeria Da Mario",
                telephone_number="02-1234-5678",
            )
        ],
    )
    store.put_extension(
        ExtensionRecord(tenant="other", number="201", first_name="Olga", last_name="Smirnova")
    )


@pytest.fixture
def store() -> DirectoryStore:
    s = DirectoryStore()
    populate(s)
    return s


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(
        [
            BindUser(PHONES_DN, PHONES_PASSWORD, tenant="demo"),
            BindUser(ADMIN_DN, ADMIN_PASSWORD, tenant=None),
        ]
    )


@pytest.fixture
async def ldap_port(store: DirectoryStore, credentials: Credentials) -> AsyncIterator[int]:
    server = LdapServer(PhonebookTree(store), credentials)
    port = await server.start("127.0.0.1", 0)
    try:
        yield port
    finally:
        await server.stop()

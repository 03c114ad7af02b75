"""The read-only LDAP v3 phonebook server (FEAT-11): sans-IO connection plus asyncio adapter."""

from centralino_directory.ldap.connection import (
    BindUser,
    Credentials,
    LdapServerConnection,
    Limits,
)
from centralino_directory.ldap.server import LdapServer
from centralino_directory.ldap.tree import PhonebookTree, Scope

__all__ = [
    "BindUser",
    "Credentials",
    "LdapServer",
    "LdapServerConnection",
    "Limits",
    "PhonebookTree",
    "Scope",
]

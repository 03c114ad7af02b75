"""A phonebook contact: the one shape every source (extensions, local phonebook, imported
directories) is turned into before the LDAP server, SNMP or gRPC see it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ContactSource(StrEnum):
    EXTENSION = "extension"
    LOCAL = "local"
    #: imported from an external directory; the full source name is ``ldap:<import name>``
    LDAP = "ldap"


@dataclass(frozen=True, slots=True)
class Contact:
    """One person or number in a tenant's phonebook.

    ``id`` is unique within the tenant and stable across updates (it names the LDAP entry).
    ``source`` is ``extension``, ``local`` or ``ldap:<import name>``.
    """

    id: str
    source: str
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    telephone_number: str = ""
    mobile: str = ""
    mail: str = ""
    organisation: str = ""
    department: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a contact needs a non-empty id")
        if not self.source:
            raise ValueError(f"contact {self.id!r} needs a source")

    @property
    def name(self) -> str:
        """What a phone shows: the display name, else "first last", else the number."""
        if self.display_name:
            return self.display_name
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.telephone_number or self.mobile or self.id

    def matches(self, query: str) -> bool:
        """Case-insensitive substring match over names and numbers (the gRPC search)."""
        q = query.casefold()
        if not q:
            return True
        for text in (self.name, self.first_name, self.last_name, self.mail):
            if q in text.casefold():
                return True
        # Only a query that looks like a number is compared with numbers: "b2" is a name.
        digits = _digits(query)
        if digits and _NUMBER_QUERY.match(query):
            for number in (self.telephone_number, self.mobile):
                if digits in _digits(number):
                    return True
        return False


_NUMBER_QUERY = re.compile(r"^[0-9+*#()./ \-]+$")


def _digits(text: str) -> str:
    # Numbers are compared without the spaces, dashes and dots people write them with.
    return "".join(c for c in text if c.isdigit() or c in "+*#")

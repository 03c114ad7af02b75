"""The attribute types this server publishes, their aliases and matching rules.

Standard inetOrgPerson attributes (RFC 4519, RFC 2798). PB-09/PB-10 name the
organisation and department attributes "organization" and "organizationUnit"; the
standard names are ``o`` (organizationName) and ``ou`` (organizationalUnitName). We publish
the standard ones and accept the manual's spellings as aliases in filters and attribute
lists, so a phone configured either way finds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino_directory.phonebook.contacts import Contact

_ALIASES: dict[str, str] = {
    "objectclass": "objectClass",
    "uid": "uid",
    "userid": "uid",
    "cn": "cn",
    "commonname": "cn",
    "sn": "sn",
    "surname": "sn",
    "givenname": "givenName",
    "gn": "givenName",
    "displayname": "displayName",
    "telephonenumber": "telephoneNumber",
    "mobile": "mobile",
    "mobiletelephonenumber": "mobile",
    "mail": "mail",
    "rfc822mailbox": "mail",
    "o": "o",
    "organizationname": "o",
    "organization": "o",
    "ou": "ou",
    "organizationalunitname": "ou",
    "organizationunit": "ou",
    "dc": "dc",
    "domaincomponent": "dc",
    "namingcontexts": "namingContexts",
    "supportedldapversion": "supportedLDAPVersion",
    "supportedcontrol": "supportedControl",
    "supportedextension": "supportedExtension",
    "vendorname": "vendorName",
    "subschemasubentry": "subschemaSubentry",
}

#: telephoneNumberMatch (RFC 4517 §4.2.29): spaces and hyphens are insignificant.
_PHONE_ATTRIBUTES = frozenset({"telephoneNumber", "mobile"})

PERSON_CLASSES = ("top", "person", "organizationalPerson", "inetOrgPerson")


def canonical_attribute(description: str) -> str:
    """The canonical name of an attribute description; options (``;lang-en``) are
    dropped and unknown names are returned as given."""
    base = description.split(";", 1)[0]
    return _ALIASES.get(base.lower(), base)


def normalise(attribute: str, value: str) -> str:
    """The form two values of ``attribute`` are compared in."""
    folded = value.casefold()
    if attribute in _PHONE_ATTRIBUTES:
        return "".join(c for c in folded if c not in " -")
    # caseIgnoreMatch: leading/trailing space is insignificant, inner runs collapse.
    return " ".join(folded.split())


@dataclass(frozen=True, slots=True)
class LdapEntry:
    """An entry as the server returns it: attribute names canonical, values non-empty."""

    dn: str
    attributes: dict[str, tuple[str, ...]]

    def values(self, attribute: str) -> tuple[str, ...] | None:
        """Values of a canonical attribute; None when the entry does not hold it."""
        return self.attributes.get(attribute)


def contact_entry(dn: str, contact: Contact) -> LdapEntry:
    """The inetOrgPerson entry of one contact; absent fields are left out."""
    name = contact.name
    attrs: dict[str, tuple[str, ...]] = {
        "objectClass": PERSON_CLASSES,
        "uid": (contact.id,),
        "cn": (name,),
        # sn is mandatory in person: fall back to the name phones show.
        "sn": (contact.last_name or name,),
    }
    optional = {
        "givenName": contact.first_name,
        "displayName": name,
        "telephoneNumber": contact.telephone_number,
        "mobile": contact.mobile,
        "mail": contact.mail,
        "o": contact.organisation,
        "ou": contact.department,
    }
    attrs.update({k: (v,) for k, v in optional.items() if v})
    return LdapEntry(dn=dn, attributes=attrs)

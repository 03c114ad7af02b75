"""From SIP core messages to the plain facts the registration cores decide on."""

from __future__ import annotations

from centralino.sip import Request, SipHeaderError
from centralino.sip.digest import DigestCredentials, parse_authorization
from centralino_registrar.binding import ContactEntry, RegisterFacts


def parse_digest(value: str, header: str) -> DigestCredentials | None:
    """Digest credentials, or None for another scheme or malformed ones: the phone then
    gets a challenge, as if it had sent none."""
    try:
        return parse_authorization(value, header)
    except SipHeaderError:
        return None


def credentials(request: Request, realm: str, header: str) -> DigestCredentials | None:
    """The request's credentials for ``realm`` (a phone may carry several), else the first."""
    found = [c for c in (parse_digest(v, header) for v in request.headers.get_all(header)) if c]
    return next((c for c in found if c.realm == realm), found[0] if found else None)


def register_facts(request: Request) -> RegisterFacts:
    contacts = tuple(
        ContactEntry(str(c.uri), _int_param(c.params.get("expires"))) for c in request.contacts
    )
    return RegisterFacts(contacts, request.contact_is_star, request.expires)


def _int_param(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise SipHeaderError("Contact", f"expires={value!r} is not a number")
    return int(value)

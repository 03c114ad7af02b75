"""What a REGISTER does to the account's single location (sans-IO, REG-03..06).

Rules:

* One location per account (REG-06): a REGISTER with a non-zero expiry replaces whatever
  is stored, whichever device stored it. At most one Contact in a REGISTER may ask for a
  non-zero expiry; the others may only remove themselves (``expires=0``).
* Expiry (REG-03): the Contact's ``expires`` parameter, else the Expires header, else the
  default. Non-zero below the minimum is refused with 423 and Min-Expires; above the
  maximum it is lowered to the maximum. The granted time goes back in the 200 OK.
* ``Expires: 0`` removes the binding if it is this Contact's; ``Contact: *`` with
  ``Expires: 0`` removes it whatever it is; any other use of ``*`` is a 400.
* No Contact: a query; the 200 OK lists the current binding.
* Same Call-ID with a lower CSeq than the stored binding is an out-of-order request
  (RFC 3261 §10.3 step 7) and is refused with 500 without touching the store.
* An expired binding counts as no binding.
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino.v1 import config_pb2, registrar_pb2
from centralino_registrar.auth import Reject

DEFAULT_MIN_EXPIRES = 60
DEFAULT_MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600

EVENT_REGISTERED = "registered"
EVENT_REFRESHED = "refreshed"
EVENT_UNREGISTERED = "unregistered"
EVENT_EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ContactEntry:
    uri: str
    expires: int | None  # the Contact's expires parameter


@dataclass(frozen=True, slots=True)
class RegisterFacts:
    contacts: tuple[ContactEntry, ...]
    wildcard: bool
    expires_header: int | None


@dataclass(frozen=True, slots=True)
class ExpiryLimits:
    minimum: int
    maximum: int
    default: int

    @classmethod
    def from_settings(cls, sip: config_pb2.SipSettings) -> ExpiryLimits:
        minimum = sip.min_expires or DEFAULT_MIN_EXPIRES
        maximum = max(sip.max_expires or DEFAULT_MAX_EXPIRES, minimum)
        default = min(max(sip.default_expires or DEFAULT_EXPIRES, minimum), maximum)
        return cls(minimum, maximum, default)


@dataclass(frozen=True, slots=True)
class Bind:
    contact: str
    expires: int


@dataclass(frozen=True, slots=True)
class Unbind:
    contacts: tuple[str, ...] | None  # None: "*", whatever is stored


@dataclass(frozen=True, slots=True)
class Query:
    pass


Plan = Bind | Unbind | Query


def plan_register(facts: RegisterFacts, limits: ExpiryLimits) -> Plan | Reject:
    if facts.wildcard:
        if facts.expires_header != 0 or facts.contacts:
            return Reject(400, "Bad Request (Contact: * needs Expires: 0 and no other Contact)")
        return Unbind(None)
    if not facts.contacts:
        return Query()
    binds: list[Bind] = []
    unbinds: list[str] = []
    for contact in facts.contacts:
        requested = contact.expires if contact.expires is not None else facts.expires_header
        if requested is None:
            requested = limits.default
        if requested < 0:
            return Reject(400, "Bad Request (negative expiry)")
        if requested == 0:
            unbinds.append(contact.uri)
        elif requested < limits.minimum:
            return Reject(423, "Interval Too Brief", (("Min-Expires", str(limits.minimum)),))
        else:
            binds.append(Bind(contact.uri, min(requested, limits.maximum)))
    if len(binds) > 1:
        return Reject(400, "Bad Request (one location per account: send a single Contact)")
    if binds:
        return binds[0]  # replacing the location removes any contact being unbound with it
    return Unbind(tuple(unbinds))


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of applying a plan to the stored location.

    ``store`` is the new value (None: delete) when ``write`` is true; ``event`` is what
    to announce; ``binding`` is the location to list in the 200 OK (None: no binding);
    ``removed`` is the binding a delete removed (what an "unregistered" event is about).
    """

    write: bool
    store: registrar_pb2.Location | None
    event: str | None
    binding: registrar_pb2.Location | None
    removed: registrar_pb2.Location | None = None


def live(location: registrar_pb2.Location | None, now_ms: int) -> registrar_pb2.Location | None:
    if location is None or location.expires_unix_ms <= now_ms:
        return None
    return location


def same_contact(a: str, b: str) -> bool:
    return a.strip().strip("<>") == b.strip().strip("<>")


def apply_plan(
    plan: Plan,
    current: registrar_pb2.Location | None,
    proposed: registrar_pb2.Location,
    now_ms: int,
) -> Change | Reject:
    """``proposed`` carries everything about this REGISTER (contact, source, flow, Call-ID,
    CSeq); for a Bind its expiry is set here."""
    current = live(current, now_ms)
    if current is not None and current.call_id == proposed.call_id and proposed.cseq < current.cseq:
        return Reject(500, "Server Internal Error (CSeq out of order)", (("Retry-After", "1"),))
    if isinstance(plan, Query):
        return Change(False, None, None, current)
    if isinstance(plan, Unbind):
        if current is None or (
            plan.contacts is not None
            and not any(same_contact(current.contact, c) for c in plan.contacts)
        ):
            return Change(False, None, None, current)
        return Change(True, None, EVENT_UNREGISTERED, None, removed=current)
    new = registrar_pb2.Location()
    new.CopyFrom(proposed)
    new.contact = plan.contact
    new.expires_unix_ms = now_ms + plan.expires * 1000
    refresh = (
        current is not None
        and same_contact(current.contact, plan.contact)
        and current.call_id == proposed.call_id
    )
    if refresh:
        assert current is not None
        new.registered_unix_ms = current.registered_unix_ms
    else:
        new.registered_unix_ms = now_ms
    return Change(True, new, EVENT_REFRESHED if refresh else EVENT_REGISTERED, new)

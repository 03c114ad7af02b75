"""Classify what a phone dialled: a service code, an internal extension or an external number.

Service codes come from the tenant's numbering plan, never from constants here. Codes
are matched longest first so ``*81`` beats ``*8``. After the unlock code, the rest is
the services PIN (LOCK-04); after the directed-pickup code, the rest is the target
extension. Pickup and directed pickup may share one code: nothing after it means group
pickup. A single ``*`` or ``#`` between a code and its argument is accepted and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

_DIGITS = re.compile(r"^[0-9]+$")
_CODE = re.compile(r"^[0-9*#]+$")
_DIALLED = re.compile(r"^\+?[0-9*#]+$")


class DialPlanError(ValueError):
    """The numbering plan or a dialled string is unusable."""


class Service(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"
    PICKUP = "pickup"
    DIRECTED_PICKUP = "directed_pickup"


@dataclass(frozen=True, slots=True)
class ServiceCodes:
    """Service codes of the numbering plan; an empty code disables that service."""

    lock: str = ""
    unlock: str = ""
    pickup: str = ""
    directed_pickup: str = ""

    def __post_init__(self) -> None:
        for service in Service:
            code = getattr(self, service.value)
            if code and not _CODE.match(code):
                raise DialPlanError(f"service code {service.value}={code!r} is not diallable")
        used = [c for c in (self.lock, self.unlock) if c]
        if len(set(used)) != len(used):
            raise DialPlanError("lock and unlock codes must differ")


@dataclass(frozen=True, slots=True)
class ServiceCall:
    service: Service
    argument: str = ""  # PIN for unlock, target extension for directed pickup


@dataclass(frozen=True, slots=True)
class InternalCall:
    extension: str


@dataclass(frozen=True, slots=True)
class ExternalCall:
    number: str  # as dialled, what the routing-class patterns see
    e164: str | None  # "+<digits>" when it can be expressed in E.164, for ENUM


@dataclass(frozen=True, slots=True)
class NumberingPlan:
    codes: ServiceCodes
    country_code: str = ""  # e.g. "39"; empty: national numbers have no E.164 form
    international_prefix: str = "00"
    national_prefix: str = "0"

    def to_e164(self, number: str) -> str | None:
        if number.startswith("+"):
            digits = number[1:]
        elif self.international_prefix and number.startswith(self.international_prefix):
            digits = number[len(self.international_prefix) :]
        elif self.country_code and self.national_prefix and number.startswith(self.national_prefix):
            digits = self.country_code + number[len(self.national_prefix) :]
        else:
            return None
        return "+" + digits if _DIGITS.match(digits) and len(digits) <= 15 else None


def classify(
    dialled: str, plan: NumberingPlan, is_extension: Callable[[str], bool]
) -> ServiceCall | InternalCall | ExternalCall:
    """One decision per dialled string; raises :class:`DialPlanError` on garbage."""
    if not _DIALLED.match(dialled):
        raise DialPlanError(f"{dialled!r} is not a diallable string")
    service = _service(dialled, plan.codes)
    if service is not None:
        return service
    if is_extension(dialled):
        return InternalCall(dialled)
    return ExternalCall(dialled, plan.to_e164(dialled))


def _service(dialled: str, codes: ServiceCodes) -> ServiceCall | None:
    candidates = sorted(
        ((getattr(codes, s.value), s) for s in Service if getattr(codes, s.value)),
        key=lambda pair: (-len(pair[0]), pair[1] is Service.DIRECTED_PICKUP),
    )
    for code, service in candidates:
        if not dialled.startswith(code):
            continue
        rest = dialled[len(code) :]
        if rest[:1] in {"*", "#"}:
            rest = rest[1:]
        if service in {Service.LOCK, Service.PICKUP}:
            if not rest:
                return ServiceCall(service)
            continue  # maybe a directed pickup sharing the code
        if service is Service.UNLOCK:
            if rest and not _DIGITS.match(rest):
                raise DialPlanError(f"{dialled!r}: the PIN after the unlock code must be digits")
            return ServiceCall(service, rest)
        if not _DIGITS.match(rest):
            raise DialPlanError(f"{dialled!r}: directed pickup needs the target extension")
        return ServiceCall(service, rest)
    return None

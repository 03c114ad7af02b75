"""The G.729 activation procedure (G729-02/03) as a pure state machine.

Rules:

1. Activation starts by entering the key (step 1); the key is verified then, so a wrong key is
   refused before the administrator reads any terms.
2. Next the terms of use must be accepted, quoting the version that was shown (step 2).
3. Next the personal data of the licensee are entered (step 3).
4. Only then does "activate" complete it (G729-03).

No step can be skipped or repeated out of order: each action is allowed in exactly one state,
and any other action raises :class:`FailedPrecondition` with reason ``step_out_of_order``
naming the step that is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from centralino_licensing.errors import FailedPrecondition, LicensingError


class Step(Enum):
    ACCEPT_TERMS = "accept_terms"
    PERSONAL_DATA = "personal_data"
    ACTIVATE = "activate"
    DONE = "done"


class Action(Enum):
    ACCEPT_TERMS = "accept_terms"
    PERSONAL_DATA = "personal_data"
    ACTIVATE = "activate"


TRANSITIONS: dict[Step, dict[Action, Step]] = {
    Step.ACCEPT_TERMS: {Action.ACCEPT_TERMS: Step.PERSONAL_DATA},
    Step.PERSONAL_DATA: {Action.PERSONAL_DATA: Step.ACTIVATE},
    Step.ACTIVATE: {Action.ACTIVATE: Step.DONE},
    Step.DONE: {},
}


def advance(current: Step, action: Action) -> Step:
    """The step after ``action``; refuses actions out of order."""
    try:
        return TRANSITIONS[current][action]
    except KeyError:
        if current is Step.DONE:
            message = "this G.729 activation is already complete"
        else:
            message = (
                f"cannot {action.value.replace('_', ' ')} now: the next step is {current.value}"
            )
        raise FailedPrecondition("step_out_of_order", message) from None


TERMS_VERSION = "2026-1"
TERMS_TEXT = (
    "G.729 codec licence terms of use (version 2026-1). The licensed channels may be used only "
    "on the PBX whose serial number the licence is bound to. Each channel allows one "
    "simultaneous G.729 transcoding leg. The licence may not be copied, resold or transferred "
    "to another PBX. The licensee's personal data are kept with the licence for the purpose "
    "of the codec patent pool's reporting."
)


def check_terms(accepted: bool, version: str) -> None:
    if not accepted:
        raise LicensingError("terms_not_accepted", "the terms of use must be accepted to go on")
    if version != TERMS_VERSION:
        raise LicensingError(
            "terms_version",
            f"accepted terms version {version!r} but the current version is {TERMS_VERSION!r}",
        )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
MAX_FIELD = 200


@dataclass(frozen=True, slots=True)
class PersonalData:
    full_name: str
    company: str
    email: str
    country: str

    def validated(self) -> PersonalData:
        """A normalised copy; raises naming the first wrong field."""
        data = PersonalData(
            full_name=self.full_name.strip(),
            company=self.company.strip(),
            email=self.email.strip(),
            country=self.country.strip().upper(),
        )
        for name in ("full_name", "company", "email", "country"):
            if len(getattr(data, name)) > MAX_FIELD:
                raise LicensingError("personal_data", f"{name} is longer than {MAX_FIELD}")
        if not data.full_name:
            raise LicensingError("personal_data", "full_name is required")
        if not _EMAIL.match(data.email):
            raise LicensingError("personal_data", f"email {data.email!r} is not an address")
        if not _COUNTRY.match(data.country):
            raise LicensingError(
                "personal_data", f"country {data.country!r} is not an ISO 3166 two-letter code"
            )
        return data

    def as_json(self) -> dict[str, str]:
        return {
            "full_name": self.full_name,
            "company": self.company,
            "email": self.email,
            "country": self.country,
        }

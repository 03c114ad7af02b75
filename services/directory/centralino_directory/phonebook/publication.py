"""What an extension publishes, as a pure function of its settings (PB-01..PB-10).

Two views come out of one extension:

* the *extensions phonebook* (PB-01): listed when "Show in local phonebook" is Yes, with
  the extension number as its telephone number;
* the *LDAP phonebook* (PB-03..PB-08), following the "LDAP publication mode":

  - ``disabled``: not published (PB-04);
  - ``rule``: the tenant's general publication rule applied to the extension's own number
    (PB-05);
  - ``number``: the "Custom LDAP number" is published as the telephone number (PB-06);
  - ``rule_extension``: the general rule applied to the "Custom LDAP extension" (PB-07).

Both views carry first/last name, e-mail and mobile (PB-02, EXT-09..EXT-11), Organisation
(PB-09, LDAP ``o``) and Department (PB-10, LDAP ``ou``). The custom fields only count in the
mode that shows them (PB-08): a stale custom number is ignored in every other mode.

A disabled extension (EXT-07) cannot be reached, so it is published in neither view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from centralino_directory.phonebook.contacts import Contact, ContactSource


class PublicationError(ValueError):
    """Extension phonebook settings or a publication rule are invalid."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class PublicationMode(StrEnum):
    """The four values of "LDAP publication mode" (PB-03)."""

    DISABLED = "disabled"
    RULE = "rule"
    NUMBER = "number"
    RULE_EXTENSION = "rule_extension"


# The manual's labels, accepted as input so exported settings round-trip.
_MODE_LABELS: dict[str, PublicationMode] = {
    "disabled": PublicationMode.DISABLED,
    "ldap publication rule": PublicationMode.RULE,
    "presenting the number below": PublicationMode.NUMBER,
    "ldap publication rule applied to the extension below": PublicationMode.RULE_EXTENSION,
}

_NUMERIC = re.compile(r"^[0-9]+$")
_NUMBER = re.compile(r"^\+?[0-9]+$")
# A published number may carry the characters people dial or format with.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./\-]*$")


def parse_mode(value: str) -> PublicationMode:
    key = value.strip().lower()
    try:
        return PublicationMode(key)
    except ValueError:
        pass
    if key in _MODE_LABELS:
        return _MODE_LABELS[key]
    allowed = ", ".join(m.value for m in PublicationMode)
    raise PublicationError("ldap_mode", f"unknown mode {value!r}; expected one of {allowed}")


@dataclass(frozen=True, slots=True)
class PublicationRule:
    """The tenant's general LDAP publication rule (the LDAP Settings panel).

    ``number_template`` turns an extension number into the published telephone number;
    ``{extension}`` is replaced by the number, e.g. ``+39 02 5555 {extension}`` publishes
    the direct-dial number of extension 201 as ``+39 02 5555 201``.
    """

    number_template: str = "{extension}"

    def __post_init__(self) -> None:
        t = self.number_template
        if t.count("{extension}") != 1:
            raise PublicationError(
                "number_template", f"must contain '{{extension}}' exactly once, got {t!r}"
            )
        rest = t.replace("{extension}", "")
        if "{" in rest or "}" in rest:
            raise PublicationError("number_template", f"only {{extension}} is allowed in {t!r}")

    def apply(self, extension: str) -> str:
        return self.number_template.replace("{extension}", extension)


@dataclass(frozen=True, slots=True)
class ExtensionRecord:
    """The phonebook-relevant settings of one extension, as config-api stores them."""

    tenant: str
    number: str
    enabled: bool = True
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    mail: str = ""
    mobile: str = ""
    show_in_phonebook: bool = True
    ldap_mode: PublicationMode = PublicationMode.RULE
    custom_ldap_number: str = ""
    custom_ldap_extension: str = ""
    organisation: str = ""
    department: str = ""

    def __post_init__(self) -> None:
        if not _NUMERIC.match(self.number):
            raise PublicationError("number", f"extension number must be numeric: {self.number!r}")
        if self.mobile and not _PHONE.match(self.mobile):
            raise PublicationError("mobile", f"not a telephone number: {self.mobile!r}")
        # PB-06/PB-07: each custom field is numeric (a number may carry a leading +, as
        # config-api allows), and required only in its own mode.
        if self.custom_ldap_number and not _NUMBER.match(self.custom_ldap_number):
            raise PublicationError(
                "custom_ldap_number", f"must be numeric: {self.custom_ldap_number!r}"
            )
        if self.custom_ldap_extension and not _NUMERIC.match(self.custom_ldap_extension):
            raise PublicationError(
                "custom_ldap_extension", f"must be numeric: {self.custom_ldap_extension!r}"
            )
        if self.ldap_mode is PublicationMode.NUMBER and not self.custom_ldap_number:
            raise PublicationError("custom_ldap_number", "required in mode 'number'")
        if self.ldap_mode is PublicationMode.RULE_EXTENSION and not self.custom_ldap_extension:
            raise PublicationError("custom_ldap_extension", "required in mode 'rule_extension'")

    @property
    def contact_id(self) -> str:
        return f"ext-{self.number}"


@dataclass(frozen=True, slots=True)
class Publication:
    """What one extension contributes: ``None`` where it is not published."""

    phonebook: Contact | None
    ldap: Contact | None


def ldap_number(ext: ExtensionRecord, rule: PublicationRule) -> str | None:
    """The telephone number LDAP publishes for ``ext``, or None when it is not published."""
    match ext.ldap_mode:
        case PublicationMode.DISABLED:
            return None
        case PublicationMode.RULE:
            return rule.apply(ext.number)
        case PublicationMode.NUMBER:
            return ext.custom_ldap_number
        case PublicationMode.RULE_EXTENSION:
            return rule.apply(ext.custom_ldap_extension)


def publish(ext: ExtensionRecord, rule: PublicationRule) -> Publication:
    if not ext.enabled:
        return Publication(phonebook=None, ldap=None)

    def contact(number: str) -> Contact:
        return Contact(
            id=ext.contact_id,
            source=ContactSource.EXTENSION.value,
            first_name=ext.first_name,
            last_name=ext.last_name,
            display_name=ext.display_name,
            telephone_number=number,
            mobile=ext.mobile,
            mail=ext.mail,
            organisation=ext.organisation,
            department=ext.department,
        )

    number = ldap_number(ext, rule)
    return Publication(
        phonebook=contact(ext.number) if ext.show_in_phonebook else None,
        ldap=contact(number) if number is not None else None,
    )


def _text(doc: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise PublicationError(key, f"expected text, got {type(value).__name__}")
        return str(value).strip()
    return ""


def _flag(doc: Mapping[str, Any], default: bool, *keys: str) -> bool:
    for key in keys:
        value = doc.get(key)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise PublicationError(key, f"expected true/false, got {value!r}")
        return value
    return default


def _object(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, Mapping):
        raise PublicationError(key, "expected an object")
    return value


def extension_from_settings(
    tenant: str, number: str, enabled: bool, document: Mapping[str, Any]
) -> ExtensionRecord:
    """Build a record from config-api's extension document (``Extension.settings_json``).

    Person fields (``first_name``, ``last_name``, ``email``, ``mobile``) sit at the top;
    the phonebook fields in ``settings.phonebook`` (``show_in_local``, ``ldap_mode``,
    ``ldap_custom_number``, ``ldap_custom_extension``, ``organisation``, ``department``).
    A flat document with the same names, or a top-level ``phonebook`` object, is read too.
    Nulls mean "not set".
    """
    settings = _object(document, "settings")
    pb: dict[str, Any] = {
        **document,
        **_object(document, "phonebook"),
        **_object(settings, "phonebook"),
    }
    mode_raw = _text(pb, "ldap_mode") or PublicationMode.RULE.value
    return ExtensionRecord(
        tenant=tenant,
        number=number,
        enabled=enabled,
        first_name=_text(pb, "first_name"),
        last_name=_text(pb, "last_name"),
        display_name=_text(pb, "display_name"),
        mail=_text(pb, "email", "mail"),
        mobile=_text(pb, "mobile"),
        show_in_phonebook=_flag(pb, True, "show_in_local", "show_in_phonebook"),
        ldap_mode=parse_mode(mode_raw),
        custom_ldap_number=_text(pb, "ldap_custom_number", "custom_ldap_number"),
        custom_ldap_extension=_text(pb, "ldap_custom_extension", "custom_ldap_extension"),
        organisation=_text(pb, "organisation", "organization"),
        department=_text(pb, "department"),
    )

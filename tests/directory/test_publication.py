"""PB-01..PB-10: what an extension publishes in the phonebook and in LDAP (pure model)."""

from __future__ import annotations

import pytest

from centralino_directory.phonebook import (
    Contact,
    DirectoryStore,
    ExtensionRecord,
    PublicationError,
    PublicationMode,
    PublicationRule,
    extension_from_settings,
    publish,
)
from centralino_directory.phonebook.publication import parse_mode

RULE = PublicationRule("+39 02 5555 {extension}")


def ext(**kw: object) -> ExtensionRecord:
    base: dict[str, object] = {
        "tenant": "demo",
        "number": "201",
        "first_name": "John",
        "last_name": "Smith",
        "mail": "john@example.com",
        "mobile": "+39 333 1234567",
        "organisation": "ACME",
        "department": "Sales",
    }
    base.update(kw)
    return ExtensionRecord(**base)  # type: ignore[arg-type]


def test_pb01_show_in_local_phonebook_yes_lists_the_extension() -> None:
    pub = publish(ext(show_in_phonebook=True), RULE)
    assert pub.phonebook is not None
    assert pub.phonebook.telephone_number == "201"


def test_pb01_show_in_local_phonebook_no_hides_it_from_the_phonebook_only() -> None:
    pub = publish(ext(show_in_phonebook=False), RULE)
    assert pub.phonebook is None
    assert pub.ldap is not None  # LDAP follows its own mode


def test_pb02_pb09_pb10_entry_carries_names_mail_mobile_organisation_department() -> None:
    pub = publish(ext(), RULE)
    for contact in (pub.phonebook, pub.ldap):
        assert contact is not None
        assert (contact.first_name, contact.last_name) == ("John", "Smith")
        assert contact.mail == "john@example.com"
        assert contact.mobile == "+39 333 1234567"
        assert contact.organisation == "ACME"
        assert contact.department == "Sales"
        assert contact.name == "John Smith"


def test_pb03_modes_are_exactly_the_four_of_the_manual() -> None:
    assert [m.value for m in PublicationMode] == ["disabled", "rule", "number", "rule_extension"]
    labels = [
        "Disabled",
        "LDAP publication rule",
        "Presenting the number below",
        "LDAP publication rule applied to the extension below",
    ]
    assert [parse_mode(label) for label in labels] == list(PublicationMode)
    with pytest.raises(PublicationError, match="unknown mode"):
        parse_mode("public")


def test_pb04_disabled_is_not_published_in_ldap() -> None:
    pub = publish(ext(ldap_mode=PublicationMode.DISABLED), RULE)
    assert pub.ldap is None
    assert pub.phonebook is not None


def test_pb05_rule_mode_applies_the_general_rule_to_the_own_number() -> None:
    pub = publish(ext(ldap_mode=PublicationMode.RULE), RULE)
    assert pub.ldap is not None
    assert pub.ldap.telephone_number == "+39 02 5555 201"


def test_pb06_number_mode_publishes_the_custom_ldap_number() -> None:
    pub = publish(ext(ldap_mode=PublicationMode.NUMBER, custom_ldap_number="0298765"), RULE)
    assert pub.ldap is not None
    assert pub.ldap.telephone_number == "0298765"


def test_pb07_rule_extension_mode_applies_the_rule_to_the_custom_extension() -> None:
    pub = publish(ext(ldap_mode=PublicationMode.RULE_EXTENSION, custom_ldap_extension="200"), RULE)
    assert pub.ldap is not None
    assert pub.ldap.telephone_number == "+39 02 5555 200"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (PublicationMode.DISABLED, None),
        (PublicationMode.RULE, "+39 02 5555 201"),
        (PublicationMode.NUMBER, "0298765"),
        (PublicationMode.RULE_EXTENSION, "+39 02 5555 200"),
    ],
)
def test_pb08_custom_fields_only_count_in_their_own_mode(
    mode: PublicationMode, expected: str | None
) -> None:
    # Both custom fields are filled in (stale values from an earlier mode): only the one
    # the current mode shows may influence the published number.
    pub = publish(
        ext(ldap_mode=mode, custom_ldap_number="0298765", custom_ldap_extension="200"), RULE
    )
    assert (pub.ldap.telephone_number if pub.ldap else None) == expected


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"ldap_mode": PublicationMode.NUMBER}, "custom_ldap_number"),
        ({"ldap_mode": PublicationMode.RULE_EXTENSION}, "custom_ldap_extension"),
        ({"custom_ldap_number": "02-555"}, "custom_ldap_number"),
        ({"custom_ldap_extension": "+200"}, "custom_ldap_extension"),
        ({"custom_ldap_extension": "2x"}, "custom_ldap_extension"),
        ({"number": "abc"}, "number"),
        ({"mobile": "call me"}, "mobile"),
    ],
)
def test_pb06_pb07_custom_fields_are_numeric_and_required_in_their_mode(
    kw: dict[str, object], field: str
) -> None:
    with pytest.raises(PublicationError) as info:
        ext(**kw)
    assert info.value.field == field


def test_ext07_disabled_extension_is_published_nowhere() -> None:
    pub = publish(ext(enabled=False), RULE)
    assert pub.phonebook is None and pub.ldap is None


@pytest.mark.parametrize("template", ["", "+39 02", "{extension}{extension}", "{ext}{extension}"])
def test_publication_rule_rejects_bad_templates(template: str) -> None:
    with pytest.raises(PublicationError):
        PublicationRule(template)


def test_settings_document_from_config_api() -> None:
    # The shape of config-api's Extension.settings_json (person fields on top, the
    # phonebook panel under settings.phonebook, unset values as null).
    doc = {
        "number": "202",
        "first_name": "Anna",
        "last_name": "Rossi",
        "email": "anna@example.com",
        "mobile": None,
        "settings": {
            "voicemail": {"enabled": False},
            "phonebook": {
                "show_in_local": False,
                "ldap_mode": "number",
                "ldap_custom_number": "+390298765",
                "ldap_custom_extension": None,
                "organisation": "ACME",
                "department": "R&D",
            },
        },
    }
    record = extension_from_settings("demo", "202", True, doc)
    assert record.ldap_mode is PublicationMode.NUMBER
    assert record.custom_ldap_number == "+390298765"
    assert not record.show_in_phonebook
    assert record.mail == "anna@example.com" and record.mobile == ""
    assert record.department == "R&D"
    flat = extension_from_settings(
        "demo", "203", True, {"ldap_mode": "Disabled", "show_in_phonebook": True}
    )
    assert flat.ldap_mode is PublicationMode.DISABLED and flat.show_in_phonebook
    with pytest.raises(PublicationError, match="show_in_local"):
        extension_from_settings("demo", "202", True, {"show_in_local": "maybe"})
    with pytest.raises(PublicationError, match="settings"):
        extension_from_settings("demo", "202", True, {"settings": ["x"]})


def test_store_rule_change_republishes_and_sources_report_changes() -> None:
    store = DirectoryStore()
    store.put_extension(ext())
    assert store.ldap_contacts("demo")[0].telephone_number == "201"
    store.set_rule("demo", RULE)
    assert store.ldap_contacts("demo")[0].telephone_number == "+39 02 5555 201"

    a = Contact(id="ldap-corp-1", source="ldap:corp", display_name="A", telephone_number="1")
    b = Contact(id="ldap-corp-2", source="ldap:corp", display_name="B", telephone_number="2")
    first = store.replace_contacts("demo", "ldap:corp", [a, b])
    assert first.added == ("ldap-corp-1", "ldap-corp-2")
    b2 = Contact(id="ldap-corp-2", source="ldap:corp", display_name="B2", telephone_number="2")
    second = store.replace_contacts("demo", "ldap:corp", [b2])
    assert (second.added, second.updated, second.removed) == (
        (),
        ("ldap-corp-2",),
        ("ldap-corp-1",),
    )
    assert [c.name for c in store.search("demo", "b2")] == ["B2"]
    assert store.remove_extension("demo", "201")
    assert [c.id for c in store.ldap_contacts("demo")] == ["ldap-corp-2"]


def test_search_matches_names_and_numbers_ignoring_formatting() -> None:
    store = DirectoryStore()
    store.put_extension(ext())
    store.replace_contacts(
        "demo",
        "local",
        [Contact(id="l1", source="local", display_name="Pizzeria", telephone_number="02-1234")],
    )
    assert [c.id for c in store.search("demo", "SMI")] == ["ext-201"]
    assert [c.id for c in store.search("demo", "021234")] == ["l1"]
    assert [c.id for c in store.search("demo", "333 123")] == ["ext-201"]
    assert len(store.search("demo", "", limit=1)) == 1
    assert store.search("nobody", "x") == []

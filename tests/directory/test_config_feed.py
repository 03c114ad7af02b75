"""How config-api's change events reach the store (the feed's own logic, no bus), and
the directory settings read from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from centralino.settings import CommonSettings, SettingsError
from centralino.v1 import config_pb2
from centralino_directory.config_feed import ConfigFeed, extension_from_message
from centralino_directory.phonebook import DirectoryStore, ExtensionRecord, PublicationError
from centralino_directory.settings import DirectorySettings


class Extensions:
    """config-api's current state, as GetExtension would answer it."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], ExtensionRecord] = {}

    async def get_extension(self, tenant: str, number: str) -> ExtensionRecord | None:
        return self.items.get((tenant, number))


def changed(
    op: str, number: str, ext_id: str = "id-1", kind: str = "extension"
) -> config_pb2.ConfigChanged:
    return config_pb2.ConfigChanged(kind=kind, id=ext_id, op=op, key=number)


async def test_events_load_current_state_renumber_and_delete() -> None:
    store = DirectoryStore()
    source = Extensions()
    feed = ConfigFeed(store, source)
    source.items[("demo", "201")] = ExtensionRecord(tenant="demo", number="201", first_name="Ada")
    await feed.apply("demo", changed("created", "201"))
    await feed.apply("demo", changed("created", "201"))  # delivered twice: same result
    assert [c.id for c in store.ldap_contacts("demo")] == ["ext-201"]

    # Renumbered 201 → 301 (same id): the old entry must go.
    del source.items[("demo", "201")]
    source.items[("demo", "301")] = ExtensionRecord(tenant="demo", number="301", first_name="Ada")
    await feed.apply("demo", changed("updated", "301"))
    assert [c.id for c in store.ldap_contacts("demo")] == ["ext-301"]

    # An event for something config-api no longer has removes it.
    del source.items[("demo", "301")]
    await feed.apply("demo", changed("updated", "301"))
    assert store.ldap_contacts("demo") == []

    source.items[("demo", "202")] = ExtensionRecord(tenant="demo", number="202", first_name="B")
    await feed.apply("demo", changed("created", "202", "id-2"))
    await feed.apply("demo", changed("deleted", "202", "id-2"))
    await feed.apply("demo", changed("updated", "1", kind="account"))  # not ours
    assert store.ldap_contacts("demo") == []


def test_extension_message_from_config_api() -> None:
    doc = {"first_name": "Ada", "settings": {"phonebook": {"ldap_mode": "disabled"}}}
    msg = config_pb2.Extension(
        tenant="demo", number="201", enabled=True, settings_json=json.dumps(doc).encode()
    )
    record = extension_from_message(msg)
    assert (record.first_name, record.ldap_mode.value) == ("Ada", "disabled")
    with pytest.raises(PublicationError, match="settings_json"):
        extension_from_message(config_pb2.Extension(tenant="d", number="1", settings_json=b"[1"))


def settings(env: dict[str, str]) -> DirectorySettings:
    return DirectorySettings.from_common(CommonSettings.from_env("directory", env))


def test_settings_defaults_and_errors(tmp_path: Path) -> None:
    s = settings({})
    assert s.ldap_listen == ("0.0.0.0", 1389) and s.snmp_listen == ("0.0.0.0", 1161)
    assert s.publication_rule.apply("201") == "201"
    users = tmp_path / "users.json"
    users.write_text(
        '[{"dn": "cn=phones,o=demo,dc=centralino", "password": "x", "tenant": "demo"}]'
    )
    s = settings({"CENTRALINO_LDAP_USERS_FILE": str(users)})
    assert s.ldap_users[0].tenant == "demo"
    bad = [
        ({"CENTRALINO_LDAP_NUMBER_TEMPLATE": "+39"}, "CENTRALINO_LDAP_NUMBER_TEMPLATE"),
        ({"CENTRALINO_LDAP_LISTEN": "1389"}, "CENTRALINO_LDAP_LISTEN"),
        ({"CENTRALINO_SNMP_COMMUNITY": ""}, "CENTRALINO_SNMP_COMMUNITY"),
        ({"CENTRALINO_LDAP_USERS_FILE": str(tmp_path / "none.json")}, "CENTRALINO_LDAP_USERS_FILE"),
        ({"CENTRALINO_DIRECTORY_IMPORTS_FILE": str(users)}, "CENTRALINO_DIRECTORY_IMPORTS_FILE"),
    ]
    for env, variable in bad:
        with pytest.raises(SettingsError) as info:
            settings(env)
        assert info.value.variable == variable

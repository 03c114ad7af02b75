"""The directory service's own settings, from the environment.

=================================  ==================  =====================================
variable                           default             meaning
=================================  ==================  =====================================
CENTRALINO_LDAP_LISTEN             0.0.0.0:1389        LDAP phonebook listener (phones)
CENTRALINO_LDAP_SUFFIX             dc=centralino       root of the tree; tenants below it
CENTRALINO_LDAP_ANONYMOUS          true                allow anonymous bind and search
CENTRALINO_LDAP_USERS_FILE         (none)              JSON list of {dn, password, tenant}
CENTRALINO_LDAP_MAX_SIZE           1000                most entries one search returns
CENTRALINO_LDAP_MAX_TIME           10                  most seconds one search may take
CENTRALINO_LDAP_NUMBER_TEMPLATE    {extension}         general publication rule (PB-05)
CENTRALINO_SNMP_LISTEN             0.0.0.0:1161        SNMP agent (UDP)
CENTRALINO_SNMP_COMMUNITY          public              read-only community (v1/v2c)
CENTRALINO_SNMP_CONTACT            (empty)             sysContact
CENTRALINO_SNMP_LOCATION           (empty)             sysLocation
CENTRALINO_DIRECTORY_IMPORTS_FILE  (none)              JSON list of directory imports
CENTRALINO_LICENCE_POOL            g729                licensing pool reported over SNMP
CENTRALINO_METRICS_POLL_SECONDS    30                  licensing pool poll interval
=================================  ==================  =====================================

Both listeners face phones and management stations, hence the wildcard defaults.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from centralino.settings import (
    CommonSettings,
    SettingsError,
    env_bool,
    env_float,
    env_hostport,
    env_int,
    env_str,
)
from centralino_directory.ldap.connection import BindUser, Limits
from centralino_directory.ldapimport.config import ImportConfigError, ImportSource, load_sources
from centralino_directory.phonebook.publication import PublicationError, PublicationRule


def _users(path: str) -> list[BindUser]:
    if not path:
        return []
    name = "CENTRALINO_LDAP_USERS_FILE"
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(name, f"cannot read {path}: {exc}") from None
    if not isinstance(doc, list):
        raise SettingsError(name, "expected a JSON list of {dn, password, tenant}")
    users = []
    for item in doc:
        if not isinstance(item, dict) or set(item) - {"dn", "password", "tenant"}:
            raise SettingsError(name, f"each user is {{dn, password, tenant}}, got {item!r}")
        try:
            users.append(
                BindUser(str(item.get("dn", "")), str(item.get("password", "")), item.get("tenant"))
            )
        except ValueError as exc:
            raise SettingsError(name, str(exc)) from None
    return users


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    common: CommonSettings
    ldap_listen: tuple[str, int]
    ldap_suffix: str
    ldap_anonymous: bool
    ldap_users: list[BindUser] = field(repr=False)
    ldap_limits: Limits
    publication_rule: PublicationRule
    snmp_listen: tuple[str, int]
    snmp_community: str = field(repr=False)
    snmp_contact: str
    snmp_location: str
    snmp_name: str
    imports: list[ImportSource]
    licence_pool: str
    metrics_poll_seconds: float

    @classmethod
    def from_common(cls, common: CommonSettings) -> DirectorySettings:
        env: Mapping[str, str] = common.environ
        template = env_str("CENTRALINO_LDAP_NUMBER_TEMPLATE", "{extension}", env)
        try:
            rule = PublicationRule(template)
        except PublicationError as exc:
            raise SettingsError("CENTRALINO_LDAP_NUMBER_TEMPLATE", exc.problem) from None
        imports_file = env_str("CENTRALINO_DIRECTORY_IMPORTS_FILE", "", env)
        try:
            imports = load_sources(Path(imports_file)) if imports_file else []
        except ImportConfigError as exc:
            raise SettingsError("CENTRALINO_DIRECTORY_IMPORTS_FILE", str(exc)) from None
        community = env_str("CENTRALINO_SNMP_COMMUNITY", "public", env)
        if not community:
            raise SettingsError("CENTRALINO_SNMP_COMMUNITY", "must not be empty")
        return cls(
            common=common,
            ldap_listen=env_hostport("CENTRALINO_LDAP_LISTEN", "0.0.0.0:1389", env),
            ldap_suffix=env_str("CENTRALINO_LDAP_SUFFIX", "dc=centralino", env),
            ldap_anonymous=env_bool("CENTRALINO_LDAP_ANONYMOUS", True, env),
            ldap_users=_users(env_str("CENTRALINO_LDAP_USERS_FILE", "", env)),
            ldap_limits=Limits(
                max_size=env_int("CENTRALINO_LDAP_MAX_SIZE", 1000, env, minimum=1),
                max_time=env_float("CENTRALINO_LDAP_MAX_TIME", 10.0, env),
            ),
            publication_rule=rule,
            snmp_listen=env_hostport("CENTRALINO_SNMP_LISTEN", "0.0.0.0:1161", env),
            snmp_community=community,
            snmp_contact=env_str("CENTRALINO_SNMP_CONTACT", "", env),
            snmp_location=env_str("CENTRALINO_SNMP_LOCATION", "", env),
            snmp_name=env_str("CENTRALINO_SNMP_NAME", socket.gethostname(), env),
            imports=imports,
            licence_pool=env_str("CENTRALINO_LICENCE_POOL", "g729", env),
            metrics_poll_seconds=env_float("CENTRALINO_METRICS_POLL_SECONDS", 30.0, env),
        )

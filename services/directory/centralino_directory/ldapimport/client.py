"""Reading contacts from an external LDAP/AD server with ldap3 (blocking; the scheduler
runs it in a worker thread).

Incremental sync, where the server allows: after a first full read we remember the
newest ``modifyTimestamp`` seen; the next sync fetches full entries only for
``(modifyTimestamp>=<that>)`` and lists the keys of everything else (one attribute per
entry) to notice deletions. A server that does not return ``modifyTimestamp`` (no access
to operational attributes) simply gets a full read each time.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from centralino_directory.ldapimport.config import ImportSource
from centralino_directory.ldapimport.mapping import entry_key, newest_timestamp, to_contact
from centralino_directory.phonebook.contacts import Contact

_STAMP = "modifyTimestamp"


class DirectoryImportError(RuntimeError):
    """Talking to the external directory failed; says which source and why."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"directory import {source!r}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True, slots=True)
class FetchResult:
    contacts: dict[str, Contact]  # by key
    incremental: bool
    fetched: int  # full entries read
    high_water: str | None  # newest modifyTimestamp seen


def _seconds(value: float) -> int:
    # ldap3 packs timeouts into a C struct for setsockopt: whole seconds only.
    return max(1, math.ceil(value))


def _connection(source: ImportSource) -> ldap3.Connection:
    tls = None
    if source.tls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if source.verify_tls else ssl.CERT_NONE,
            ca_certs_file=source.ca_file or None,
            version=ssl.PROTOCOL_TLS_CLIENT,
        )
    server = ldap3.Server(
        source.url,
        use_ssl=source.url.startswith("ldaps://"),
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=_seconds(source.timeout_seconds),
    )
    return ldap3.Connection(
        server,
        user=source.bind_dn or None,
        password=source.password or None,
        authentication=ldap3.SIMPLE if source.bind_dn else ldap3.ANONYMOUS,
        receive_timeout=_seconds(source.timeout_seconds),
        raise_exceptions=True,
        read_only=True,
    )


def _entries(
    conn: ldap3.Connection, source: ImportSource, search_filter: str, attributes: list[str]
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    for item in conn.extend.standard.paged_search(
        source.base,
        search_filter,
        search_scope=ldap3.SUBTREE,
        attributes=attributes,
        paged_size=source.page_size,
        generator=True,
    ):
        if item.get("type") == "searchResEntry":
            yield item["dn"], item.get("attributes", {}), item.get("raw_attributes", {})


def _stamp(raw: Mapping[str, Any]) -> str:
    for key, values in raw.items():
        if key.lower() == _STAMP.lower() and values:
            value = values[0]
            return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return ""


def fetch(source: ImportSource, previous: Mapping[str, Contact], since: str | None) -> FetchResult:
    """Read the source's contacts; incrementally when ``since`` and ``previous`` allow.

    ``previous`` maps keys to the contacts of the last successful sync.
    """
    attributes = [*source.attributes(), _STAMP]
    try:
        conn = _connection(source)
        with conn:
            if source.start_tls:
                conn.start_tls()
            conn.bind()
            if since and previous:
                changed_filter = f"(&{source.filter}({_STAMP}>={escape_filter_chars(since)}))"
                changed: dict[str, Contact | None] = {}
                stamps = [since]
                fetched = 0
                for dn, attrs, raw in _entries(conn, source, changed_filter, attributes):
                    key = entry_key(source, dn, raw)
                    changed[key] = to_contact(source, key, attrs)
                    stamps.append(_stamp(raw))
                    fetched += 1
                key_attrs = [_STAMP] + (
                    [source.key_attribute] if source.key_attribute != "dn" else []
                )
                contacts: dict[str, Contact] = {}
                complete = True
                for dn, _, raw in _entries(conn, source, source.filter, key_attrs):
                    key = entry_key(source, dn, raw)
                    if key in changed:
                        contact = changed[key]
                    elif key in previous:
                        contact = previous[key]
                    elif _stamp(raw) and _stamp(raw) < since:
                        # unchanged since the last sync and not a contact then (no number):
                        # still not one, whichever second the two syncs fell in
                        continue
                    else:  # appeared without a newer timestamp: cannot trust the delta
                        complete = False
                        break
                    if contact is not None:
                        contacts[key] = contact
                if complete:
                    return FetchResult(contacts, True, fetched, newest_timestamp(stamps))
            contacts = {}
            stamps = []
            fetched = 0
            for dn, attrs, raw in _entries(conn, source, source.filter, attributes):
                key = entry_key(source, dn, raw)
                contact = to_contact(source, key, attrs)
                if contact is not None:
                    contacts[key] = contact
                stamps.append(_stamp(raw))
                fetched += 1
            return FetchResult(contacts, False, fetched, newest_timestamp(stamps))
    except LDAPException as exc:
        raise DirectoryImportError(source.name, f"{type(exc).__name__}: {exc}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise DirectoryImportError(source.name, f"connection failed: {exc}") from exc

"""FEAT-10: importing a company directory from a real slapd with the ldap3 client."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from centralino_directory.ldapimport import (
    DEFAULT_MAPPING,
    ImportConfigError,
    ImportScheduler,
    ImportSource,
    load_sources,
)
from centralino_directory.phonebook import DirectoryStore

from . import slapd as sl

pytestmark = pytest.mark.skipif(
    shutil.which("slapd") is None and not Path("/usr/sbin/slapd").exists(),
    reason="OpenLDAP slapd not installed",
)


@pytest.fixture(scope="module")
def slapd() -> Iterator[sl.Slapd]:
    with tempfile.TemporaryDirectory(prefix="centralino-slapd-") as folder:
        server = sl.make(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def admin(slapd: sl.Slapd) -> ldap3.Connection:
    return ldap3.Connection(
        ldap3.Server(slapd.url), sl.ROOT_DN, sl.ROOT_PW, auto_bind=True, raise_exceptions=True
    )


def source(slapd: sl.Slapd, **kw: object) -> ImportSource:
    base: dict[str, object] = {
        "name": "corp",
        "tenant": "demo",
        "url": slapd.url,
        "base": sl.PEOPLE,
        "bind_dn": sl.READER_DN,
        "password": sl.READER_PW,
    }
    base.update(kw)
    return ImportSource(**base)  # type: ignore[arg-type]


def by_name(store: DirectoryStore) -> dict[str, str]:
    return {c.name: c.telephone_number for c in store.source_contacts("demo", "ldap:corp")}


async def test_feat10_full_then_incremental_sync_reports_changes(slapd: sl.Slapd) -> None:
    store = DirectoryStore()
    scheduler = ImportScheduler(store, [source(slapd)])
    first = await scheduler.run_now("corp")
    assert first.ok, first.error
    assert not first.incremental
    assert by_name(store) == {"Alice Archer": "+39 02 1111", "Bob Baker": "+39 02 2222"}
    assert len(first.changes.added) == 2  # "No Number" has no number: not a contact
    alice = next(c for c in store.source_contacts("demo", "ldap:corp") if c.first_name == "Alice")
    assert (alice.mail, alice.organisation, alice.department) == (
        "alice@example.com",
        "Example",
        "Finance",
    )

    # LDAP timestamps have one-second resolution: the changes below land in a later second
    # than the entries loaded with the directory, as they would in production (the
    # unchanged entry without a number must not spoil the incremental sync)
    await asyncio.sleep(1.1)
    with admin(slapd) as conn:
        conn.add(
            f"uid=carol,{sl.PEOPLE}",
            "inetOrgPerson",
            {"cn": "Carol Clark", "sn": "Clark", "telephoneNumber": "+39 02 3333"},
        )
        conn.modify(
            f"uid=bob,{sl.PEOPLE}", {"telephoneNumber": [(ldap3.MODIFY_REPLACE, ["+39 02 2223"])]}
        )
        conn.delete(f"uid=alice,{sl.PEOPLE}")
    try:
        second = await scheduler.run_now("corp")
        assert second.ok, second.error
        assert second.incremental
        assert by_name(store) == {"Bob Baker": "+39 02 2223", "Carol Clark": "+39 02 3333"}
        assert (
            len(second.changes.added),
            len(second.changes.updated),
            len(second.changes.removed),
        ) == (1, 1, 1)
        third = await scheduler.run_now("corp")
        assert third.incremental and not third.changes.changed
    finally:
        with admin(slapd) as conn:  # put the directory back for the other tests
            conn.delete(f"uid=carol,{sl.PEOPLE}")
            conn.add(
                f"uid=alice,{sl.PEOPLE}",
                "inetOrgPerson",
                {
                    "cn": "Alice Archer",
                    "givenName": "Alice",
                    "sn": "Archer",
                    "telephoneNumber": "+39 02 1111",
                    "mail": "alice@example.com",
                    "o": "Example",
                    "ou": "Finance",
                },
            )
            conn.modify(
                f"uid=bob,{sl.PEOPLE}",
                {"telephoneNumber": [(ldap3.MODIFY_REPLACE, ["+39 02 2222"])]},
            )


async def test_feat10_filter_mapping_and_dn_keys(slapd: sl.Slapd) -> None:
    store = DirectoryStore()
    src = source(
        slapd,
        filter="(mobile=*)",
        mapping={**DEFAULT_MAPPING, "telephone_number": ("mobile",)},
        key_attribute="dn",
        bind_dn="",
        password="",
    )
    report = await ImportScheduler(store, [src]).run_now("corp")
    assert report.ok, report.error
    assert by_name(store) == {"Bob Baker": "+39 333 2222"}


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
async def test_feat10_tls_verified_against_the_ca(slapd: sl.Slapd, mode: str) -> None:
    store = DirectoryStore()
    kw: dict[str, object] = {"url": slapd.tls_url} if mode == "ldaps" else {"start_tls": True}
    good = source(slapd, ca_file=str(slapd.ca_file), **kw)
    report = await ImportScheduler(store, [good]).run_now("corp")
    assert report.ok, report.error
    assert len(by_name(store)) == 2
    # Without the CA the server's self-signed certificate must be refused.
    untrusted = source(slapd, **kw)
    report = await ImportScheduler(DirectoryStore(), [untrusted]).run_now("corp")
    assert not report.ok and report.error


async def test_feat10_failures_are_reported_not_raised(slapd: sl.Slapd) -> None:
    store = DirectoryStore()
    wrong = source(slapd, password="nope")
    report = await ImportScheduler(store, [wrong]).run_now("corp")
    assert not report.ok and "invalidCredentials" in report.error.replace(" ", "")
    from centralino.runner.embedded import free_port

    dead = source(slapd, url=f"ldap://127.0.0.1:{free_port()}", timeout_seconds=2)
    report = await ImportScheduler(store, [dead]).run_now("corp")
    assert not report.ok
    assert store.source_contacts("demo", "ldap:corp") == []


async def test_feat10_scheduled_sync_runs_at_start(slapd: sl.Slapd) -> None:
    import asyncio

    store = DirectoryStore()
    done: asyncio.Queue[object] = asyncio.Queue()
    scheduler = ImportScheduler(store, [source(slapd)], on_report=done.put_nowait)
    scheduler.start()
    try:
        report = await asyncio.wait_for(done.get(), 10)
    finally:
        await scheduler.stop()
    assert getattr(report, "ok", False)
    assert len(by_name(store)) == 2


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"url": "http://x"}, "url"),
        ({"url": "ldaps://x", "start_tls": True}, "start_tls"),
        ({"base": ""}, "base"),
        ({"filter": "uid=*"}, "filter"),
        ({"bind_dn": "cn=x", "password": ""}, "bind_dn/password"),
        ({"mapping": {"nickname": ("cn",)}}, "mapping"),
        ({"name": "has space"}, "name"),
        ({"interval_seconds": 1}, "interval_seconds"),
    ],
)
def test_import_config_errors_name_the_field(kw: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"name": "corp", "tenant": "demo", "url": "ldap://h", "base": "dc=x"}
    base.update(kw)
    with pytest.raises(ImportConfigError) as info:
        ImportSource(**base)  # type: ignore[arg-type]
    assert info.value.field == field


def test_load_sources_from_json(tmp_path: Path) -> None:
    path = tmp_path / "imports.json"
    path.write_text(
        '[{"name": "corp", "tenant": "demo", "url": "ldaps://ad.example.com", '
        '"base": "dc=example,dc=com", "mapping": {"telephone_number": "ipPhone"}}]'
    )
    [src] = load_sources(path)
    assert src.mapping["telephone_number"] == ("ipPhone",) and src.tls
    path.write_text('[{"name": "corp", "colour": "red"}]')
    with pytest.raises(ImportConfigError, match="colour"):
        load_sources(path)

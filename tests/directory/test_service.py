"""The directory service end to end: a real config-api (PostgreSQL, NATS, gRPC) feeds the
phonebook; ldapsearch, gRPC and snmpget read it (FEAT-09, FEAT-11, PB-01, PB-04..PB-06)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from centralino.bus import Bus, event_subject, heartbeat_subject
from centralino.service import serve
from centralino.settings import CommonSettings
from centralino.v1 import common_pb2, directory_pb2, directory_pb2_grpc, registrar_pb2
from centralino_directory.service import DirectoryService

from .test_ldap_clients import ldapsearch, records
from .test_snmp_agent import net_snmp, values

config_api = pytest.importorskip("config_api.conftest", reason="config-api tests not present")

COMMUNITY = "svc-community"
needs_tools = pytest.mark.skipif(
    shutil.which("ldapsearch") is None or shutil.which("snmpget") is None,
    reason="ldap-utils / snmp tools not installed",
)


@contextlib.asynccontextmanager
async def running_directory(nats_url: str, config_grpc: str) -> AsyncIterator[DirectoryService]:
    env = {
        "NATS_URL": nats_url,
        "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
        "CENTRALINO_CONFIG_GRPC": config_grpc,
        "CENTRALINO_LICENSING_GRPC": "127.0.0.1:9",  # nothing there: the pool stays 0
        "CENTRALINO_LDAP_LISTEN": "127.0.0.1:0",
        "CENTRALINO_SNMP_LISTEN": "127.0.0.1:0",
        "CENTRALINO_SNMP_COMMUNITY": COMMUNITY,
        "CENTRALINO_LDAP_NUMBER_TEMPLATE": "+39 02 5555 {extension}",
        "CENTRALINO_LOG_FORMAT": "text",
        "CENTRALINO_HEARTBEAT_SECONDS": "30",
        "CENTRALINO_METRICS_POLL_SECONDS": "3600",
    }
    settings = CommonSettings.from_env("directory", env)
    service = DirectoryService(settings)
    stop = asyncio.Event()
    watcher = await Bus.connect(nats_url, "directory-test-watcher")
    up = asyncio.Event()

    async def on_beat(_: str, beat: common_pb2.ServiceHeartbeat) -> None:
        if beat.instance == settings.instance_id:
            up.set()

    await watcher.subscribe(heartbeat_subject("directory"), common_pb2.ServiceHeartbeat, on_beat)
    task = asyncio.create_task(serve(service, settings, stop))
    try:
        done, _ = await asyncio.wait(
            {task, asyncio.ensure_future(up.wait())},
            timeout=30,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if task in done:
            task.result()
        assert up.is_set(), "directory did not report SERVING"
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await watcher.close()


async def until(condition: asyncio.Condition, predicate: Callable[[], bool]) -> None:
    async with condition:
        await asyncio.wait_for(condition.wait_for(predicate), 15)


@needs_tools
async def test_phonebook_follows_config_api_and_snmp_counts(
    database_url: str, nats_url: str
) -> None:
    tenant = f"d{uuid.uuid4().hex[:10]}"
    async with (
        config_api.running_service(database_url, nats_url) as api,
        running_directory(nats_url, api.grpc_address) as directory,
    ):
        assert directory.config_feed is not None and directory.metrics_feed is not None
        feed = directory.config_feed
        store = directory.store
        base = f"ou=phonebook,o={tenant},dc=centralino"

        def ldap_numbers() -> dict[str, str]:
            return {c.id: c.telephone_number for c in store.ldap_contacts(tenant)}

        status, body, _ = await api.call(
            "POST", "/api/v1/tenants", json={"id": tenant, "name": tenant}
        )
        assert status == 201, body
        status, body, _ = await api.call(
            "POST",
            f"/api/v1/tenants/{tenant}/extensions",
            json={
                "number": "201",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "settings": {"phonebook": {"organisation": "ACME", "department": "R&D"}},
            },
        )
        assert status == 201, body

        # PB-05: the general rule publishes the direct number; PB-09/PB-10 o and ou.
        await until(feed.changed, lambda: "ext-201" in ldap_numbers())
        rc, out = await ldapsearch(
            directory.ldap.port, "-b", base, "(|(cn=*love*)(telephoneNumber=*love*))"
        )
        assert rc == 0, out
        [entry] = records(out)
        assert entry["telephoneNumber"] == ["+39 02 5555 201"]
        assert (entry["o"], entry["ou"], entry["mail"]) == (["ACME"], ["R&D"], ["ada@example.com"])

        # PB-06: a custom number replaces it.
        ext_path = f"/api/v1/tenants/{tenant}/extensions/201"
        status, body, _ = await api.call(
            "PATCH",
            ext_path,
            json={
                "settings": {"phonebook": {"ldap_mode": "number", "ldap_custom_number": "0298765"}}
            },
            if_match="*",
        )
        assert status == 200, body
        await until(feed.changed, lambda: ldap_numbers().get("ext-201") == "0298765")

        # PB-04: disabled leaves LDAP; the extensions phonebook (PB-01) still lists it.
        status, body, _ = await api.call(
            "PATCH",
            ext_path,
            json={"settings": {"phonebook": {"ldap_mode": "disabled"}}},
            if_match="*",
        )
        assert status == 200, body
        await until(feed.changed, lambda: "ext-201" not in ldap_numbers())
        rc, out = await ldapsearch(directory.ldap.port, "-b", base, "(cn=*)")
        assert rc == 0 and records(out) == [], out
        assert directory.ctx is not None
        address = f"127.0.0.1:{directory.ctx.grpc.port}"
        async with grpc.aio.insecure_channel(address) as ch:
            stub = directory_pb2_grpc.DirectoryServiceStub(ch)
            found = await stub.Search(directory_pb2.SearchRequest(tenant=tenant, query="ada"))
            assert [(c.display_name, c.telephone_number) for c in found.contacts] == [
                ("Ada Lovelace", "201")
            ]
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.SyncImport(directory_pb2.SyncImportRequest(name="nope"))
            assert info.value.code() == grpc.StatusCode.NOT_FOUND

        status, body, _ = await api.call("DELETE", ext_path, if_match="*")
        assert status == 204, body
        await until(feed.changed, lambda: store.phonebook_contacts(tenant) == [])

        # FEAT-09: a registration announced on the bus shows up over SNMP.
        publisher = await Bus.connect(nats_url, "directory-test-publisher")
        try:
            location = registrar_pb2.Location(
                tenant=tenant, username="ada201", expires_unix_ms=2**62
            )
            await publisher.publish(
                event_subject(tenant, "registrar", "location", "registered"),
                registrar_pb2.LocationEvent(event="registered", location=location),
            )
        finally:
            await publisher.close()
        metrics = directory.metrics
        await until(
            directory.metrics_feed.changed,
            lambda: metrics.snapshot(time.time()).registered_accounts >= 1,
        )
        rc, out, err = await net_snmp(
            "snmpwalk",
            directory.snmp.port,
            "CENTRALINO-MIB::centralinoObjects",
            options=("-v", "2c"),
            community=COMMUNITY,
        )
        assert rc == 0, err
        got = values(out)
        assert int(got["CENTRALINO-MIB::cnRegisteredAccounts.0"]) >= 1
        assert got["CENTRALINO-MIB::cnServiceStatus.6"] == "serving(3)"  # itself


@needs_tools
async def test_extensions_created_before_the_directory_starts_are_published(
    database_url: str, nats_url: str
) -> None:
    """FEAT-11: at start the directory loads every extension, not only recent changes."""
    tenant = f"d{uuid.uuid4().hex[:10]}"
    async with config_api.running_service(database_url, nats_url) as api:
        status, body, _ = await api.call(
            "POST", "/api/v1/tenants", json={"id": tenant, "name": tenant}
        )
        assert status == 201, body
        for number, first in (("301", "Grace"), ("302", "Alan")):
            status, body, _ = await api.call(
                "POST",
                f"/api/v1/tenants/{tenant}/extensions",
                json={"number": number, "first_name": first, "last_name": "Early"},
            )
            assert status == 201, body
        # Events older than the directory's start must not be what loads them.
        bus = await Bus.connect(nats_url, "purge")
        try:
            await bus.js.purge_stream("CENTRALINO_EVENTS", subject=f"centralino.{tenant}.>")
        finally:
            await bus.close()
        async with running_directory(nats_url, api.grpc_address) as directory:
            rc, out = await ldapsearch(
                directory.ldap.port, "-b", f"ou=phonebook,o={tenant},dc=centralino", "(sn=Early)"
            )
            assert rc == 0, out
            assert sorted(e["givenName"][0] for e in records(out)) == ["Alan", "Grace"]

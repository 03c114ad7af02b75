"""LIC-04 Multi-Tenant enforcement: the first tenant is free, a second needs the licence.

config-api asks the real licensing service (run in-process on the same NATS and database),
and the licence is a real key signed with the development vendor key.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import pytest
from licensing.conftest import Clock, Start, mint

from centralino.runner.embedded import free_port
from centralino.settings import SettingsError
from centralino.v1 import licensing_pb2
from centralino_config_api.settings import ApiSettings

from .conftest import SECRET_KEY, Running, running_service, service_env


async def _create(api: Running, name: str) -> tuple[int, dict[str, str]]:
    status, body, _ = await api.call("POST", "/api/v1/tenants", json={"id": name, "name": name})
    return status, body


async def test_second_tenant_refused_without_multi_tenant_licence_LIC_04(
    database_url: str, nats_url: str, start_licensing: Start
) -> None:
    licensing = await start_licensing()
    env = {"CENTRALINO_LICENSING_GRPC": licensing.address}
    async with running_service(database_url, nats_url, **env) as api:
        assert (await _create(api, "first"))[0] == 201

        status, body = await _create(api, "second")
        assert status == 402, body
        assert body["error"] == "licence_required"
        assert (body["field"], body["product"]) == ("licence", "multi-tenant")
        assert "Multi-Tenant" in body["message"]
        status, listed, _ = await api.call("GET", "/api/v1/tenants")
        assert [t["id"] for t in listed["items"]] == ["first"]
        # A duplicate is still a duplicate, whatever the licences.
        assert (await _create(api, "first"))[0] == 409

        # The administrator activates licences through config-api's own licence routes;
        # one for another product does not help.
        status, body, _ = await api.call("POST", "/api/v1/licenses", json={"key": mint()})
        assert status == 201, body
        assert (await _create(api, "second"))[0] == 402

        key = mint("multi-tenant", channels=1)
        status, body, _ = await api.call("POST", "/api/v1/licenses", json={"key": key})
        assert (status, body["product"]) == (201, "multi-tenant"), body
        assert (await _create(api, "second"))[0] == 201
        assert (await _create(api, "third"))[0] == 201


async def test_expired_multi_tenant_licence_refuses_LIC_04(
    database_url: str, nats_url: str, start_licensing: Start
) -> None:
    clock = Clock()
    licensing = await start_licensing(clock)
    key = mint("multi-tenant", lifetime=60.0)
    await licensing.stub.ActivateLicence(licensing_pb2.ActivateLicenceRequest(key=key))
    env = {"CENTRALINO_LICENSING_GRPC": licensing.address}
    async with running_service(database_url, nats_url, **env) as api:
        assert (await _create(api, "first"))[0] == 201
        assert (await _create(api, "second"))[0] == 201
        clock.now += 61  # the licence is over: a third tenant needs a valid one
        status, body = await _create(api, "third")
        assert status == 402, body
        assert "no valid Centralino Multi-Tenant licence" in body["message"]


async def _seed_demo(env: dict[str, str], tenant: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "centralino_config_api",
        "seed-demo",
        "--tenant",
        tenant,
        "--first",
        "200",
        "--last",
        "200",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return proc.returncode or 0, err.decode()


async def test_seed_demo_second_tenant_needs_the_licence_too_LIC_04(
    database_url: str, nats_url: str, start_licensing: Start
) -> None:
    licensing = await start_licensing()
    env = service_env(database_url, nats_url, CENTRALINO_LICENSING_GRPC=licensing.address)
    code, err = await _seed_demo(env, "demo")
    assert code == 0, err
    code, err = await _seed_demo(env, "other")
    assert code != 0 and "multi-tenant licence" in err, err
    key = mint("multi-tenant", channels=1)
    await licensing.stub.ActivateLicence(licensing_pb2.ActivateLicenceRequest(key=key))
    code, err = await _seed_demo(env, "other")
    assert code == 0, err


async def test_unreachable_licensing_gives_503(database_url: str, nats_url: str) -> None:
    env = {"CENTRALINO_LICENSING_GRPC": f"127.0.0.1:{free_port()}"}
    async with running_service(database_url, nats_url, **env) as api:
        assert (await _create(api, "first"))[0] == 201
        status, body = await _create(api, "second")
        assert status == 503, body
        assert body["error"] == "licensing_unavailable"
        assert "licensing service" in body["message"]


async def test_enforcement_switched_off_needs_no_licensing(
    database_url: str, nats_url: str
) -> None:
    env = {
        "CENTRALINO_LICENSING_GRPC": f"127.0.0.1:{free_port()}",
        "CENTRALINO_ENFORCE_LICENCES": "false",
    }
    async with running_service(database_url, nats_url, **env) as api:
        for name in ("first", "second", f"t{uuid.uuid4().hex[:8]}"):
            assert (await _create(api, name))[0] == 201


BASE = {"DATABASE_URL": "postgresql://x/y", "CENTRALINO_SECRET_KEY": SECRET_KEY}


@pytest.mark.parametrize(
    ("extra", "address", "enforced"),
    [
        ({}, "127.0.0.1:50055", False),
        ({"CENTRALINO_LICENSING_GRPC": "licensing:50055"}, "licensing:50055", True),
        ({"CENTRALINO_ENFORCE_LICENCES": "yes"}, "127.0.0.1:50055", True),
        ({"CENTRALINO_LICENSING_GRPC": "l:1", "CENTRALINO_ENFORCE_LICENCES": "off"}, "l:1", False),
    ],
)
def test_enforcement_setting_defaults(extra: dict[str, str], address: str, enforced: bool) -> None:
    settings = ApiSettings.from_env({**BASE, **extra})
    assert (settings.licensing_address, settings.enforce_licences) == (address, enforced)


def test_enforcement_setting_rejects_garbage() -> None:
    with pytest.raises(SettingsError, match="CENTRALINO_ENFORCE_LICENCES"):
        ApiSettings.from_env({**BASE, "CENTRALINO_ENFORCE_LICENCES": "maybe"})

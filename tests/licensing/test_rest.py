"""config-api's /api/v1/licenses REST surface over a real licensing service: admin only,
the LIC-02 and G729-01 fields, the G729-02 steps, and errors mapped to clear statuses."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web

from centralino.runner.embedded import free_port
from centralino_config_api.licences_routes import add_routes

from .conftest import DAY, PERSON, Running, Serve, mint

# config-api keeps its principal under the plain string key "principal"; so does this stand-in.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")


@dataclass(frozen=True)
class Principal:
    role: str


@web.middleware
async def role_from_header(request: web.Request, handler: Any) -> web.StreamResponse:
    """Stands in for config-api's auth middleware, which sets request["principal"]."""
    role = request.headers.get("X-Test-Role")
    if role:
        request["principal"] = Principal(role)
    return await handler(request)


@dataclass
class Api:
    base: str
    session: ClientSession

    async def call(
        self, method: str, path: str, body: Any = None, role: str = "admin"
    ) -> tuple[int, Any]:
        headers = {"X-Test-Role": role} if role else {}
        async with self.session.request(
            method, f"{self.base}/api/v1/licenses{path}", json=body, headers=headers
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None


async def rest_for(address: str, http_server: Serve) -> str:
    app = web.Application(middlewares=[role_from_header])
    add_routes(app.router, address)
    return await http_server(app)


@pytest.fixture
async def api(licensing: Running, http_server: Serve) -> AsyncIterator[Api]:
    base = await rest_for(licensing.address, http_server)
    async with ClientSession() as session:
        yield Api(base, session)


async def test_only_admins_reach_licences(api: Api) -> None:
    status, body = await api.call("GET", "", role="")
    assert status == 401
    for role in ("tenant_admin", "tenant_user"):
        status, body = await api.call("GET", "", role=role)
        assert status == 403 and body["error"] == "forbidden"
        status, _ = await api.call("POST", "", {"key": mint()}, role=role)
        assert status == 403
    status, body = await api.call("GET", "")
    assert (status, body) == (200, {"licences": []})


async def test_lic_02_03_activate_and_list(api: Api) -> None:
    expires = int(time.time() + 10 * DAY)
    key = mint("cti-pro", channels=5, licence_id="LIC-REST", expires_at=expires)
    status, created = await api.call("POST", "", {"key": key})
    assert status == 201
    status, body = await api.call("GET", "")
    assert status == 200
    (row,) = body["licences"]
    assert row == created
    assert {k: row[k] for k in ("id", "key", "product", "channels")} == {
        "id": "LIC-REST",
        "key": key,
        "product": "cti-pro",
        "channels": 5,
    }
    assert row["activation_date"].endswith("Z")
    assert row["expiry_date"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))

    status, body = await api.call("POST", "", {"key": key})
    assert status == 409 and body["error"] == "duplicate"
    status, body = await api.call("POST", "", {"key": mint(serial="PBX-ELSEWHERE")})
    assert status == 422 and body["error"] == "wrong_serial"
    assert "PBX-ELSEWHERE" in body["message"]
    status, body = await api.call("POST", "", {"key": 42})
    assert status == 422 and body["error"] == "validation_failed"

    status, body = await api.call(
        "POST", "/assignments", {"product": "cti-pro", "tenant": "t", "user": "u"}
    )
    assert status == 201
    status, body = await api.call("GET", "/features/cti-pro?tenant=t&user=u")
    assert status == 200 and body["granted"] and body["channels"] == 5
    status, _ = await api.call("DELETE", "/assignments/cti-pro/t/u")
    assert status == 204
    status, _ = await api.call("DELETE", "/LIC-REST")
    assert status == 204
    status, body = await api.call("DELETE", "/LIC-REST")
    assert status == 404 and body["error"] == "unknown_licence"


async def test_bad_bodies_are_400(api: Api) -> None:
    async with api.session.post(
        f"{api.base}/api/v1/licenses", data=b"{not json", headers={"X-Test-Role": "admin"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "bad_request"


async def test_g729_steps_list_and_download(api: Api) -> None:
    key = mint("g729", channels=6, licence_id="G729-REST")
    status, step = await api.call("POST", "/g729/activations", {"key": key})
    assert status == 201 and step["next_step"] == "accept_terms"
    path = f"/g729/activations/{step['activation_id']}"

    status, body = await api.call("POST", f"{path}/activate")
    assert status == 409 and body["error"] == "step_out_of_order"
    status, body = await api.call("POST", f"{path}/personal-data", PERSON)
    assert status == 409 and body["error"] == "step_out_of_order"
    terms = {"accepted": True, "terms_version": step["terms"]["version"]}
    status, body = await api.call("POST", f"{path}/terms", terms)
    assert status == 200 and body["next_step"] == "personal_data"
    status, body = await api.call("POST", f"{path}/personal-data", PERSON)
    assert status == 200 and body["next_step"] == "activate"
    status, lic = await api.call("POST", f"{path}/activate")
    assert status == 201

    status, body = await api.call("GET", "/g729")
    assert status == 200
    (row,) = body["licences"]
    assert row == lic
    assert (row["key"], row["channels"]) == (key, 6)
    assert row["expiry_date"] is not None
    status, body = await api.call("GET", "")
    assert body == {"licences": []}  # G729-04: not in the product list
    status, pool = await api.call("GET", "/g729/pool")
    assert pool == {"total": 6, "in_use": 0}

    async with api.session.get(
        f"{api.base}{row['download']}", headers={"X-Test-Role": "admin"}
    ) as response:
        assert response.status == 200
        assert 'filename="g729-G729-REST.lic"' in response.headers["Content-Disposition"]
        assert json.loads(await response.read())["key"] == key


async def test_unreachable_licensing_service_is_503(http_server: Serve) -> None:
    base = await rest_for(f"127.0.0.1:{free_port()}", http_server)
    async with ClientSession() as session:
        api = Api(base, session)
        status, body = await api.call("GET", "")
    assert status == 503 and body["error"] == "licensing_unavailable"


async def test_licence_server_failure_is_502(start_licensing: Any, http_server: Serve) -> None:
    replica = await start_licensing(CENTRALINO_LICENCE_SERVER_URL=f"http://127.0.0.1:{free_port()}")
    base = await rest_for(replica.address, http_server)
    async with ClientSession() as session:
        status, body = await Api(base, session).call("GET", "/server")
    assert status == 502 and body["error"] == "server_down"

"""Retrieval from the licence server (LIC-05, LIC-06) against the reference server, and the
client's behaviour when a server is down, slow or answers garbage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import grpc
import pytest
from aiohttp import ClientSession, web
from hypothesis import given
from hypothesis import strategies as st

from centralino.runner.embedded import free_port
from centralino.v1 import licensing_pb2 as pb
from centralino_licensing.errors import LicenceServerError
from centralino_licensing.keys import dev_public_key
from centralino_licensing.refserver import TOKEN_ENV, LicenceRegistry, create_app
from centralino_licensing.retrieval import classify
from centralino_licensing.server_client import fetch_licences
from centralino_licensing.server_protocol import ProtocolError, ServerEntry, parse_listing

from .conftest import DAY, SERIAL, Serve, Start, mint, reason_of


async def test_lic_06_reference_server_round_trip(start_licensing: Start, tmp_path: Path) -> None:
    """The entry point serves a data file; the three lists and the one-action import work."""
    now = time.time()
    active_same = mint("multi-tenant", licence_id="LIC-SAME")
    active_old = mint("cti-pro", channels=2, licence_id="LIC-UPD", issued_at=now - 7200)
    renewed = mint("cti-pro", channels=9, licence_id="LIC-UPD", issued_at=now - 60)
    automatic = mint("call-center", channels=3, licence_id="LIC-AUTO")
    manual = mint("attendant-console-phone", licence_id="LIC-MAN")
    g729 = mint("g729", channels=2, licence_id="LIC-G729")
    foreign = mint("call-center", serial="PBX-OTHER", licence_id="LIC-FOREIGN")
    expired = mint("cti-phone", valid_from=now - 9 * DAY, expires_at=now - DAY)
    entries = [
        {"key": active_same},
        {"key": renewed},
        {"key": automatic, "import": "automatic"},
        {"key": manual, "import": "manual"},
        {"key": g729},
        {"key": foreign},
        {"key": expired},
        {"key": "not even a key"},
    ]
    data = tmp_path / "licences.json"
    data.write_text(json.dumps({"serials": {SERIAL: entries, "PBX-OTHER": [{"key": foreign}]}}))
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "centralino_licensing.refserver",
        "--port",
        str(port),
        "--data",
        str(data),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        # aiohttp announces "Running on http://..." once it listens.
        banner = await asyncio.wait_for(server.stdout.readline(), 15)
        assert f":{port}" in banner.decode(), banner
        replica = await start_licensing(CENTRALINO_LICENCE_SERVER_URL=f"http://127.0.0.1:{port}")
        for key in (active_same, active_old):
            await replica.stub.ActivateLicence(pb.ActivateLicenceRequest(key=key))

        lists = await replica.stub.RetrieveFromServer(pb.RetrieveFromServerRequest())
        assert lists.serial == SERIAL
        assert [(o.id, o.channels) for o in lists.updated] == [("LIC-UPD", 9)]
        assert [o.id for o in lists.automatic] == ["LIC-AUTO"]
        assert [o.id for o in lists.manual] == ["LIC-MAN", "LIC-G729"]
        rejected = {o.key: o.reason for o in lists.rejected}
        assert "PBX-OTHER" in rejected[foreign]
        assert "expired" in rejected[expired]
        assert "not a Centralino licence key" in rejected["not even a key"]

        imported = await replica.stub.ImportAutomatic(pb.RetrieveFromServerRequest())
        assert [lic.id for lic in imported.imported] == ["LIC-AUTO"] and not imported.failed
        listed = await replica.stub.ListLicences(pb.ListLicencesRequest())
        assert {lic.id for lic in listed.licences} == {"LIC-SAME", "LIC-UPD", "LIC-AUTO"}
        again = await replica.stub.RetrieveFromServer(pb.RetrieveFromServerRequest())
        assert not again.automatic

        # "Updated on the server" is applied by activating the renewed key.
        await replica.stub.ActivateLicence(pb.ActivateLicenceRequest(key=renewed))
        assert not (await replica.stub.RetrieveFromServer(pb.RetrieveFromServerRequest())).updated
    finally:
        server.terminate()
        await server.wait()


async def test_vendor_publishes_to_the_reference_server(
    http_server: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    data = tmp_path / "published.json"
    base = await http_server(create_app(LicenceRegistry(data)))
    key = mint("call-center")
    url = f"{base}/v1/serials/{SERIAL}/licences"
    async with ClientSession() as session:
        async with session.post(url, json={"key": key}) as response:
            assert response.status == 401
        headers = {"Authorization": "Bearer s3cret"}
        async with session.post(url, json={"key": key, "import": "sideways"}, headers=headers) as r:
            assert r.status == 400 and "import" in (await r.json())["error"]
        async with session.post(url, json={"key": key, "import": "manual"}, headers=headers) as r:
            assert r.status == 201
    entries = await fetch_licences(base, SERIAL, timeout=5)
    assert [(e.key, e.import_mode) for e in entries] == [(key, "manual")]
    assert LicenceRegistry(data).by_serial[SERIAL][0].key == key  # persisted
    assert await fetch_licences(base, "PBX-NOBODY", timeout=5) == []


def garbage_app(
    body: bytes, status: int = 200, content_type: str = "application/json"
) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type=content_type)

    app = web.Application()
    app.router.add_get("/v1/serials/{serial}/licences", handler)
    return app


@pytest.mark.parametrize(
    ("body", "status", "reason", "says"),
    [
        (b"<html>maintenance</html>", 200, "server_garbage", "did not answer JSON"),
        (b"\xff\xfe\x00garbage", 200, "server_garbage", "did not answer JSON"),
        (b"[1, 2, 3]", 200, "server_garbage", "not a JSON object"),
        (
            json.dumps({"serial": "PBX-OTHER", "licences": []}).encode(),
            200,
            "server_garbage",
            "PBX-OTHER",
        ),
        (
            json.dumps({"serial": SERIAL, "licences": [{"key": 7}]}).encode(),
            200,
            "server_garbage",
            "key",
        ),
        (json.dumps({"serial": SERIAL}).encode(), 200, "server_garbage", "'licences'"),
        (b"x" * (2 << 20), 200, "server_garbage", "larger than"),
        (b"oops", 500, "server_status", "HTTP 500"),
    ],
    ids=["html", "binary", "array", "other-serial", "bad-entry", "no-list", "huge", "http-500"],
)
async def test_garbage_answers_are_refused_clearly(
    http_server: Serve, body: bytes, status: int, reason: str, says: str
) -> None:
    base = await http_server(garbage_app(body, status))
    with pytest.raises(LicenceServerError) as err:
        await fetch_licences(base, SERIAL, timeout=5)
    assert err.value.reason == reason
    assert says in err.value.message


async def test_slow_server_times_out(http_server: Serve) -> None:
    never = asyncio.Event()

    async def stall(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/v1/serials/{serial}/licences", stall)
    base = await http_server(app)
    started = time.monotonic()
    with pytest.raises(LicenceServerError) as err:
        await fetch_licences(base, SERIAL, timeout=0.5)
    assert err.value.reason == "server_timeout"
    assert "within 0.5s" in err.value.message
    assert time.monotonic() - started < 3
    never.set()


async def test_down_server_is_reported_over_grpc(start_licensing: Start) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    replica = await start_licensing(CENTRALINO_LICENCE_SERVER_URL=down)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.RetrieveFromServer(pb.RetrieveFromServerRequest())
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert reason_of(err.value) == "server_down"
    assert down in (err.value.details() or "")


async def test_no_server_configured_is_a_precondition(start_licensing: Start) -> None:
    replica = await start_licensing()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.ImportAutomatic(pb.RetrieveFromServerRequest())
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CENTRALINO_LICENCE_SERVER_URL" in (err.value.details() or "")


JSON_KEYS = st.sampled_from(["serial", "licences", "key", "import"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_KEYS, inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_any_json_document_is_parsed_or_refused_with_protocol_error(document: object) -> None:
    """Fuzz: the client's parser never fails with anything but ProtocolError."""
    with contextlib.suppress(ProtocolError):
        parse_listing(document, SERIAL)


def test_reference_server_refuses_a_broken_data_file(tmp_path: Path) -> None:
    for content in ("{not json", '{"serials": []}', '{"serials": {"A": [{"key": 1}]}}'):
        data = tmp_path / "data.json"
        data.write_text(content)
        with pytest.raises(ProtocolError) as err:
            LicenceRegistry(data)
        assert str(data) in str(err.value)


def test_classification_rejects_a_licence_listed_twice() -> None:
    key = mint("call-center", licence_id="LIC-TWICE")
    entries = [ServerEntry(key, "automatic"), ServerEntry(key, "automatic")]
    found = classify(entries, {}, dev_public_key(), SERIAL, time.time())
    assert [o.claims.id for o in found.automatic if o.claims] == ["LIC-TWICE"]
    assert [o.reason for o in found.rejected] == ["licence LIC-TWICE is listed twice"]

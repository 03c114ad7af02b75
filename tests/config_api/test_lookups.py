"""gRPC look-ups beyond accounts and extensions: routing classes, trunks, service codes,
pickup groups, the Services PIN and the SIP settings (COS, PICK, LOCK-03, EXT-12)."""

from __future__ import annotations

import grpc
import pytest

from centralino.v1 import config_pb2

from .conftest import Running


async def test_catalog_lookups_COS_PICK(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, trunk, _ = await shared.call(
        "POST",
        f"{base}/trunks",
        json={
            "name": "carrier",
            "host": "sip.example.com",
            "transport": "tls",
            "port": 5061,
            "username": "acct",
            "password": "TrunkPass1",
        },
    )
    assert s == 201 and trunk["has_password"] and "password" not in trunk
    s, cls, _ = await shared.call(
        "POST",
        f"{base}/routing-classes",
        json={
            "name": "national",
            "rules": [
                {"pattern": "00.", "action": "deny"},
                {"pattern": "0Z.", "action": "allow", "trunk_id": trunk["id"]},
            ],
        },
    )
    assert s == 201, cls
    s, grp, _ = await shared.call("POST", f"{base}/pickup-groups", json={"name": "sales"})
    for number, settings in (
        ("200", {"pickup": {"member_of": [grp["id"]]}, "cos": {"standard_class": cls["id"]}}),
        ("201", {"pickup": {"authorised": [grp["id"]]}}),
    ):
        s, out, _ = await shared.call(
            "POST", f"{base}/extensions", json={"number": number, "settings": settings}
        )
        assert s == 201, out
    t = config_pb2.TenantRequest(tenant=own_tenant)
    classes = await shared.stub.ListRoutingClasses(t)
    (c,) = classes.classes
    assert [(r.pattern, r.allow, r.trunk_id) for r in c.rules] == [
        ("00.", False, ""),
        ("0Z.", True, trunk["id"]),
    ]
    (tr,) = (await shared.stub.ListTrunks(t)).trunks
    assert (tr.host, tr.port, tr.transport, tr.password) == (
        "sip.example.com",
        5061,
        config_pb2.TLS,
        "TrunkPass1",
    )
    (g,) = (await shared.stub.ListPickupGroups(t)).groups
    assert list(g.member_numbers) == ["200"] and list(g.authorised_numbers) == ["201"]
    ext = await shared.stub.GetExtension(
        config_pb2.GetExtensionRequest(tenant=own_tenant, number="200")
    )
    assert ext.standard_class_id == cls["id"] and ext.restricted_class_id == ""


async def test_service_codes_LOCK_03(shared: Running, own_tenant: str) -> None:
    path = f"/api/v1/tenants/{own_tenant}/service-codes"
    codes = await shared.stub.GetServiceCodes(config_pb2.TenantRequest(tenant=own_tenant))
    assert (codes.lock, codes.unlock, codes.pickup, codes.voicemail) == ("*70", "*71", "*8", "*98")
    s, out, _ = await shared.call("PATCH", path, if_match="*", json={"pickup": "*7"})
    assert s == 422 and {f["field"] for f in out["fields"]} >= {"lock", "unlock"}  # prefix of *70
    s, out, _ = await shared.call("PATCH", path, if_match="*", json={"unlock": "71"})
    assert s == 422 and out["fields"][0]["field"] == "unlock"
    s, out, _ = await shared.call("PATCH", path, if_match="*", json={"unlock": "*55"})
    assert s == 200 and out["unlock"] == "*55"
    codes = await shared.stub.GetServiceCodes(config_pb2.TenantRequest(tenant=own_tenant))
    assert codes.unlock == "*55" and codes.revision == 1


async def test_service_pin_is_verified_not_revealed_EXT_12(
    shared: Running, own_tenant: str
) -> None:
    s, ext, _ = await shared.call(
        "POST",
        f"/api/v1/tenants/{own_tenant}/extensions",
        json={"number": "300", "service_pin": "2468"},
    )
    assert s == 201 and ext["service_pin_set"] and "2468" not in str(ext)
    verify = shared.stub.VerifyServicePin
    assert (
        await verify(
            config_pb2.VerifyServicePinRequest(tenant=own_tenant, number="300", pin="2468")
        )
    ).ok
    assert not (
        await verify(
            config_pb2.VerifyServicePinRequest(tenant=own_tenant, number="300", pin="1111")
        )
    ).ok
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await verify(config_pb2.VerifyServicePinRequest(tenant="nope", number="300", pin="2468"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unknown_lookups_are_not_found(shared: Running) -> None:
    for call, req in (
        (shared.stub.GetAccount, config_pb2.GetAccountRequest(username="ghost")),
        (shared.stub.GetExtension, config_pb2.GetExtensionRequest(tenant="x", number="1")),
        (shared.stub.ListExtensionAccounts, config_pb2.GetExtensionRequest(tenant="x", number="1")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(req)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await shared.stub.GetAccount(config_pb2.GetAccountRequest(username="a\x00b"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sip_settings_realm_changes_every_ha1(api: Running, tenant: str) -> None:
    base = f"/api/v1/tenants/{tenant}"
    await api.call("POST", f"{base}/extensions", json={"number": "200"})
    await api.call(
        "POST",
        f"{base}/accounts",
        json={"username": "r200", "password": "Password1", "extension": "200"},
    )
    s, out, _ = await api.call(
        "PATCH",
        "/api/v1/sip-settings",
        if_match="*",
        json={"realm": "pbx.example.com", "registration": {"min_expires": 7200}},
    )
    assert s == 422 and out["fields"][0]["field"] == "registration.min_expires"
    s, out, _ = await api.call(
        "PATCH",
        "/api/v1/sip-settings",
        if_match="*",
        json={
            "transports": {
                "udp": {"enabled": False},
                "tcp": {"enabled": False},
                "tls": {"enabled": False},
                "ws": {"enabled": False},
                "wss": {"enabled": False},
            }
        },
    )
    assert s == 422 and out["fields"][0]["field"] == "transports"
    s, out, _ = await api.call(
        "PATCH", "/api/v1/sip-settings", if_match="*", json={"realm": "pbx.example.com"}
    )
    assert s == 200, out
    sip = await api.stub.GetSipSettings(config_pb2.GetSipSettingsRequest())
    assert sip.realm == "pbx.example.com" and config_pb2.WSS in sip.enabled_transports
    acc = await api.stub.GetAccount(config_pb2.GetAccountRequest(username="r200"))
    assert {s.realm for s in acc.secrets} == {"pbx.example.com"}


async def test_list_extensions_pages_through_every_tenant(shared: Running, own_tenant: str) -> None:
    rows = [{"number": str(n), "first_name": f"N{n}"} for n in range(700, 705)]
    s, out, _ = await shared.call(
        "POST", f"/api/v1/tenants/{own_tenant}/import", json={"extensions": rows}
    )
    assert s == 200, out
    seen: list[str] = []
    token = ""
    while True:
        page = await shared.stub.ListExtensions(
            config_pb2.ListExtensionsRequest(tenant=own_tenant, page_size=2, page_token=token)
        )
        seen += [e.number for e in page.extensions]
        assert all(e.tenant == own_tenant for e in page.extensions)
        token = page.next_page_token
        if not token:
            break
    assert seen == ["700", "701", "702", "703", "704"]
    everyone = await shared.stub.ListExtensions(config_pb2.ListExtensionsRequest(page_size=1000))
    assert {e.tenant for e in everyone.extensions} >= {own_tenant}
    tenants = await shared.stub.ListTenants(config_pb2.ListTenantsRequest())
    assert own_tenant in [t.id for t in tenants.tenants]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await shared.stub.ListExtensions(config_pb2.ListExtensionsRequest(page_size=5000))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

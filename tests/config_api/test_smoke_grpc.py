"""gRPC look-ups for the registrar and router (ACC-01, ACC-11, EXT-05, LIM-01)."""

from __future__ import annotations

import hashlib

from centralino.v1 import config_pb2

from .conftest import Running


async def test_get_account_gives_ha1_and_effective_settings_ACC_01(
    api: Running, tenant: str
) -> None:
    s, body, _ = await api.call(
        "POST",
        f"/api/v1/tenants/{tenant}/extensions",
        json={"number": "200", "first_name": "Ada", "last_name": "Lovelace"},
    )
    assert s == 201, body
    s, body, _ = await api.call(
        "POST",
        f"/api/v1/tenants/{tenant}/accounts",
        json={
            "username": "ada200",
            "password": "Secret12345",
            "extension": "200",
            "settings": {"acl": {"address": "10.0.0.0", "netmask": "255.255.255.0"}, "nat": True},
        },
    )
    assert s == 201, body
    assert "password" not in body
    acc = await api.stub.GetAccount(config_pb2.GetAccountRequest(username="ada200"))
    assert acc.tenant == tenant and acc.extension_number == "200"
    assert acc.display_name == "Ada Lovelace"
    md5 = {x.algorithm: x.ha1 for x in acc.secrets}
    assert md5["MD5"] == hashlib.md5(b"ada200:centralino:Secret12345").hexdigest()
    assert md5["SHA-256"] == hashlib.sha256(b"ada200:centralino:Secret12345").hexdigest()
    assert (acc.acl_address, acc.acl_netmask, acc.nat) == ("10.0.0.0", "255.255.255.0", True)
    assert list(acc.audio_codecs) == ["PCMA", "PCMU", "G722", "OPUS"]
    ext = await api.stub.GetExtension(config_pb2.GetExtensionRequest(tenant=tenant, number="200"))
    assert ext.display_name == "Ada Lovelace" and ext.call_limit == 0
    lst = await api.stub.ListExtensionAccounts(
        config_pb2.GetExtensionRequest(tenant=tenant, number="200")
    )
    assert [a.username for a in lst.accounts] == ["ada200"]

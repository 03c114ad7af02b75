"""Template inheritance, override and reset for extensions and SIP accounts (TPL-01..09)."""

from __future__ import annotations

from centralino.v1 import config_pb2

from .conftest import Running


async def _post(api: Running, path: str, body: dict) -> dict:
    s, out, _ = await api.call("POST", path, json=body)
    assert s == 201, out
    return out


async def _patch(api: Running, path: str, body: dict, status: int = 200) -> dict:
    s, cur, h = await api.call("GET", path)
    assert s == 200, cur
    s, out, _ = await api.call("PATCH", path, json=body, if_match=h["ETag"])
    assert s == status, out
    return out


async def test_extension_template_inherit_override_reset_TPL_02_to_05(
    api: Running, tenant: str
) -> None:
    base = f"/api/v1/tenants/{tenant}"
    tpl = await _post(
        api,
        f"{base}/extension-templates",
        {
            "name": "office",
            "settings": {
                "limits": {"call_limit": 4, "busy_level": 2},
                "overflow": {"external": {"busy": {"type": "voicemail"}}},
                "voicemail": {"enabled": True},
            },
        },
    )
    a = await _post(api, f"{base}/extensions", {"number": "300", "template_id": tpl["id"]})
    b = await _post(
        api,
        f"{base}/extensions",
        {"number": "301", "template_id": tpl["id"], "settings": {"limits": {"call_limit": 9}}},
    )
    # TPL-02: defaults from the template; sources say where each value comes from
    assert a["settings"]["limits"] == {"call_limit": 4, "busy_level": 2}
    assert a["sources"]["limits.call_limit"] == "template"
    assert a["sources"]["lock.unlock_mode"] == "default"
    assert b["settings"]["limits"]["call_limit"] == 9
    assert b["sources"]["limits.call_limit"] == "override"
    assert a["settings"]["overflow"]["external"]["busy"] == {"type": "voicemail", "target": None}

    # TPL-03 / TPL-05: a template edit reaches non-overriding items only
    await _patch(
        api, f"{base}/extension-templates/{tpl['id']}", {"settings": {"limits": {"call_limit": 6}}}
    )
    _, a2, _ = await api.call("GET", f"{base}/extensions/300")
    _, b2, _ = await api.call("GET", f"{base}/extensions/301")
    assert a2["settings"]["limits"]["call_limit"] == 6
    assert a2["revision"] == a["revision"] + 1  # effective change => new revision/ETag
    assert b2["settings"]["limits"]["call_limit"] == 9
    ext = await api.stub.GetExtension(config_pb2.GetExtensionRequest(tenant=tenant, number="300"))
    assert (ext.call_limit, ext.busy_level) == (6, 2)

    # reset: inherit again
    b3 = await _patch(api, f"{base}/extensions/301", {"reset": ["limits.call_limit"]})
    assert b3["settings"]["limits"]["call_limit"] == 6
    assert b3["sources"]["limits.call_limit"] == "template"

    # removing an attribute from the template falls back to the default
    await _patch(api, f"{base}/extension-templates/office", {"reset": ["limits"]})
    _s, a4, _ = await api.call("GET", f"{base}/extensions/300")
    assert a4["settings"]["limits"] == {"call_limit": 0, "busy_level": 0}
    assert a4["sources"]["limits.busy_level"] == "default"


async def test_template_edit_that_breaks_an_item_is_refused_TPL_03(
    api: Running, tenant: str
) -> None:
    base = f"/api/v1/tenants/{tenant}"
    tpl = await _post(api, f"{base}/extension-templates", {"name": "t"})
    await _post(
        api,
        f"{base}/extensions",
        {"number": "310", "template_id": tpl["id"], "settings": {"limits": {"busy_level": 3}}},
    )
    out = await _patch(
        api,
        f"{base}/extension-templates/t",
        {"settings": {"limits": {"call_limit": 2}}},
        status=422,
    )
    assert any("extension 310" in f["field"] for f in out["fields"])
    _s, t, _ = await api.call("GET", f"{base}/extension-templates/t")
    assert t["settings"] == {}  # nothing half-written


async def test_identity_fields_are_not_shareable_TPL_06_TPL_09(api: Running, tenant: str) -> None:
    base = f"/api/v1/tenants/{tenant}"
    s, out, _ = await api.call(
        "POST",
        f"{base}/extension-templates",
        json={"name": "x", "settings": {"number": "1", "first_name": "A"}},
    )
    assert s == 422
    assert {f["field"] for f in out["fields"]} == {"settings.number", "settings.first_name"}
    s, out, _ = await api.call(
        "POST",
        f"{base}/account-templates",
        json={"name": "y", "settings": {"username": "u", "password": "p"}},
    )
    assert s == 422
    assert {f["field"] for f in out["fields"]} == {"settings.username", "settings.password"}


async def test_account_template_supplies_codecs_transports_acl_TPL_08(
    api: Running, tenant: str
) -> None:
    base = f"/api/v1/tenants/{tenant}"
    tpl = await _post(
        api,
        f"{base}/account-templates",
        {
            "name": "desk",
            "settings": {
                "audio_codecs": ["G729", "PCMA"],
                "transports": ["udp", "tls"],
                "acl": {"address": "192.168.1.0", "netmask": "24"},
            },
        },
    )
    await _post(api, f"{base}/extensions", {"number": "320"})
    acc = await _post(
        api,
        f"{base}/accounts",
        {
            "username": "desk320",
            "password": "Password1",
            "extension": "320",
            "template_id": tpl["id"],
            "settings": {"video_codecs": ["H.264", "VP8"]},
        },
    )
    assert acc["settings"]["audio_codecs"] == ["G729", "PCMA"]
    assert acc["sources"]["audio_codecs"] == "template"
    assert acc["settings"]["video_codecs"] == ["H264", "VP8"]
    await _patch(api, f"{base}/account-templates/desk", {"settings": {"audio_codecs": ["OPUS"]}})
    g = await api.stub.GetAccount(config_pb2.GetAccountRequest(username="desk320"))
    assert list(g.audio_codecs) == ["OPUS"]
    assert list(g.video_codecs) == ["H264", "VP8"]
    assert (g.acl_address, g.acl_netmask) == ("192.168.1.0", "24")
    assert list(g.transports) == [config_pb2.UDP, config_pb2.TLS]
    # template still referenced: 409 naming the account
    s, _cur, h = await api.call("GET", f"{base}/account-templates/desk")
    s, out, _ = await api.call("DELETE", f"{base}/account-templates/desk", if_match=h["ETag"])
    assert s == 409 and out["referenced_by"][0]["name"] == "desk320"

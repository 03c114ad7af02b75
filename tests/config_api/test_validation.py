"""Every value set and every rule between attributes gives 422 naming the field and why;
duplicates and still-referenced deletes give 409 naming who references it."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Running

S = "settings"
EXT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("EXT-08", {"number": "12a"}, "number"),
    ("EXT-08", {"number": ""}, "number"),
    ("EXT-07", {"number": "1", "enabled": "yes"}, "enabled"),
    ("EXT-10", {"number": "1", "email": "nope"}, "email"),
    ("EXT-11", {"number": "1", "mobile": "call-me"}, "mobile"),
    ("EXT-12", {"number": "1", "service_pin": "12"}, "service_pin"),
    ("VM-02", {"number": "1", "voicemail_email": "x@"}, "voicemail_email"),
    (
        "VM-03",
        {"number": "1", S: {"voicemail": {"notify_email": True}}},
        "settings.voicemail.notify_email",
    ),
    (
        "VM-05",
        {
            "number": "1",
            "email": "a@b.it",
            S: {"voicemail": {"notify_email": True, "delete_after_email": True}},
        },
        "settings.voicemail.delete_after_email",
    ),
    (
        "PB-03",
        {"number": "1", S: {"phonebook": {"ldap_mode": "public"}}},
        "settings.phonebook.ldap_mode",
    ),
    (
        "PB-06",
        {"number": "1", S: {"phonebook": {"ldap_mode": "number"}}},
        "settings.phonebook.ldap_custom_number",
    ),
    (
        "PB-07",
        {"number": "1", S: {"phonebook": {"ldap_mode": "rule_extension"}}},
        "settings.phonebook.ldap_custom_extension",
    ),
    ("LIM-01", {"number": "1", S: {"limits": {"call_limit": -1}}}, "settings.limits.call_limit"),
    (
        "LIM-03",
        {"number": "1", S: {"limits": {"call_limit": 2, "busy_level": 3}}},
        "settings.limits.busy_level",
    ),
    (
        "LOCK-01",
        {"number": "1", S: {"lock": {"unlock_mode": "fingerprint"}}},
        "settings.lock.unlock_mode",
    ),
    (
        "LOCK-04",
        {"number": "1", S: {"lock": {"unlock_mode": "password"}}},
        "settings.lock.unlock_mode",
    ),
    ("LOCK-05", {"number": "1", S: {"lock": {"policy": "sometimes"}}}, "settings.lock.policy"),
    ("LOCK-08", {"number": "1", S: {"lock": {"policy": "auto_relock"}}}, "settings.lock.duration"),
    (
        "COS-02",
        {"number": "1", S: {"lock": {"unlock_mode": "code"}}},
        "settings.cos.restricted_class",
    ),
    (
        "COS-01",
        {"number": "1", S: {"cos": {"standard_class": "00000000-0000-0000-0000-000000000001"}}},
        "settings.cos.standard_class",
    ),
    (
        "PICK-01",
        {"number": "1", S: {"pickup": {"member_of": ["not-a-uuid"]}}},
        "settings.pickup.member_of",
    ),
    (
        "OVF-02",
        {"number": "1", S: {"overflow": {"external": {"busy": {"type": "fax"}}}}},
        "settings.overflow.external.busy",
    ),
    (
        "OVF-02",
        {"number": "1", S: {"overflow": {"internal": {"busy": {"type": "extension"}}}}},
        "settings.overflow.internal.busy",
    ),
    (
        "OVF-02",
        {"number": "1", S: {"overflow": {"internal": {"busy": {"type": "hangup", "target": "1"}}}}},
        "settings.overflow.internal.busy",
    ),
    (
        "OVF-02",
        {
            "number": "7",
            S: {"overflow": {"transfer": {"no_answer": {"type": "extension", "target": "7"}}}},
        },
        "settings.overflow.transfer.no_answer",
    ),
    (
        "VM-01",
        {"number": "1", S: {"overflow": {"internal": {"busy": {"type": "voicemail"}}}}},
        "settings.overflow.internal.busy",
    ),
    (
        "OVF-03",
        {"number": "1", S: {"overflow": {"internal": {"timeout": 0}}}},
        "settings.overflow.internal.timeout",
    ),
    ("EXT", {"number": "1", S: {"voicemail": {"colour": "red"}}}, "settings.voicemail.colour"),
    ("EXT", {"number": "1", "id": "x"}, "id"),
    ("TPL", {"number": "1", "reset": ["nope"]}, "reset[0]"),
]


@pytest.mark.parametrize(
    ("req", "body", "field"), EXT_CASES, ids=[f"{c[0]}-{c[2]}" for c in EXT_CASES]
)
async def test_extension_rules(
    shared: Running, own_tenant: str, req: str, body: dict[str, Any], field: str
) -> None:
    s, out, _ = await shared.call("POST", f"/api/v1/tenants/{own_tenant}/extensions", json=body)
    assert s == 422, out
    fields = {f["field"]: f["reason"] for f in out["fields"]}
    assert field in fields, out
    assert fields[field]  # a reason, not just a name
    s, listing, _ = await shared.call("GET", f"/api/v1/tenants/{own_tenant}/extensions")
    assert listing["total"] == 0  # nothing half-written


ACC_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("ACC-08", {"username": "bad name"}, "username"),
    ("ACC-08", {"password": "short"}, "password"),
    ("ACC-04", {"extension": "999"}, "extension"),
    ("ACC-11", {S: {"acl": {"address": "10.0.0.1"}}}, "settings.acl.netmask"),
    (
        "ACC-11",
        {S: {"acl": {"address": "10.0.0.1", "netmask": "255.255.255.0"}}},
        "settings.acl.netmask",
    ),
    ("ACC-11", {S: {"acl": {"address": "10.0.0.300", "netmask": "24"}}}, "settings.acl.address"),
    (
        "ACC-11",
        {S: {"acl": {"address": "10.0.0.0", "netmask": "255.0.255.0"}}},
        "settings.acl.netmask",
    ),
    ("ACC-18", {S: {"outbound_proxy": {"port": 5060}}}, "settings.outbound_proxy.port"),
    (
        "ACC-18",
        {S: {"outbound_proxy": {"address": "proxy.example.com", "port": 70000}}},
        "settings.outbound_proxy.port",
    ),
    (
        "ACC-18",
        {S: {"outbound_proxy": {"address": "p", "protocol": "sctp"}}},
        "settings.outbound_proxy.protocol",
    ),
    ("ACC-20", {S: {"transports": []}}, "settings.transports"),
    ("ACC-22", {S: {"audio_codecs": ["PCMA", "MP3"]}}, "settings.audio_codecs"),
    ("ACC-22", {S: {"audio_codecs": ["PCMA", "PCMA"]}}, "settings.audio_codecs"),
    ("ACC-23", {S: {"video_codecs": ["AV1"]}}, "settings.video_codecs"),
    ("ACC-07", {S: {"push_enabled": 1}}, "settings.push_enabled"),
]


@pytest.mark.parametrize(
    ("req", "patch", "field"), ACC_CASES, ids=[f"{c[0]}-{c[2]}" for c in ACC_CASES]
)
async def test_account_rules(
    shared: Running, own_tenant: str, req: str, patch: dict[str, Any], field: str
) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, _, _ = await shared.call("POST", f"{base}/extensions", json={"number": "200"})
    body = {"username": "u200", "password": "Password1", "extension": "200", **patch}
    s, out, _ = await shared.call("POST", f"{base}/accounts", json=body)
    assert s == 422, out
    assert field in {f["field"] for f in out["fields"]}, out


async def test_transports_must_be_enabled_globally_ACC_19_ACC_21(api: Running, tenant: str) -> None:
    base = f"/api/v1/tenants/{tenant}"
    await api.call("POST", f"{base}/extensions", json={"number": "200"})
    s, acc, _ = await api.call(
        "POST",
        f"{base}/accounts",
        json={"username": "u200", "password": "Password1", "extension": "200"},
    )
    assert s == 201 and "ws" in acc["effective_transports"]
    s, sip, h = await api.call("GET", "/api/v1/sip-settings")
    s, sip, _ = await api.call(
        "PATCH",
        "/api/v1/sip-settings",
        if_match=h["ETag"],
        json={"transports": {"ws": {"enabled": False}}},
    )
    assert s == 200, sip
    s, acc, _ = await api.call("GET", f"{base}/accounts/u200")
    assert "ws" not in acc["effective_transports"]  # ACC-21: not offered any more
    s, out, _ = await api.call(
        "PATCH",
        f"{base}/accounts/u200",
        if_match="*",
        json={"settings": {"transports": ["udp", "ws"]}},
    )
    assert s == 422 and "ws" in out["fields"][0]["reason"]
    s, out, _ = await api.call(
        "PATCH",
        f"{base}/accounts/u200",
        if_match="*",
        json={"settings": {"outbound_proxy": {"address": "10.1.1.1", "protocol": "ws"}}},
    )
    assert s == 422 and out["fields"][0]["field"] == "settings.outbound_proxy.protocol"


async def test_srtp_without_tls_is_saved_with_a_warning_ACC_17(
    shared: Running, own_tenant: str
) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    await shared.call("POST", f"{base}/extensions", json={"number": "200"})
    s, acc, _ = await shared.call(
        "POST",
        f"{base}/accounts",
        json={
            "username": f"u{own_tenant}",
            "password": "Password1",
            "extension": "200",
            "settings": {"srtp": True, "transports": ["udp"]},
        },
    )
    assert s == 201 and any("ACC-17" in w for w in acc["warnings"])


async def test_duplicates_EXT_02_ACC_03(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, _, _ = await shared.call(
        "POST", "/api/v1/tenants", json={"id": f"o{own_tenant}", "name": "O"}
    )
    assert (await shared.call("POST", f"{base}/extensions", json={"number": "200"}))[0] == 201
    s, out, _ = await shared.call("POST", f"{base}/extensions", json={"number": "200"})
    assert s == 409 and "200" in out["message"]
    # same number in another tenant is fine (EXT-02)
    assert (
        await shared.call(
            "POST", f"/api/v1/tenants/o{own_tenant}/extensions", json={"number": "200"}
        )
    )[0] == 201
    acc = {"username": f"s{own_tenant}", "password": "Password1", "extension": "200"}
    assert (await shared.call("POST", f"{base}/accounts", json=acc))[0] == 201
    # the SIP username is unique across the whole PBX (ACC-03)
    s, out, _ = await shared.call("POST", f"/api/v1/tenants/o{own_tenant}/accounts", json=acc)
    assert s == 409 and "tenant" not in out["message"]  # no leak of who holds it


async def test_delete_referenced_lists_referrers(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, trunk, _ = await shared.call(
        "POST", f"{base}/trunks", json={"name": "carrier", "host": "sip.example.com"}
    )
    assert s == 201, trunk
    s, cls, _ = await shared.call(
        "POST",
        f"{base}/routing-classes",
        json={
            "name": "national",
            "rules": [
                {"pattern": "0Z.", "action": "allow", "trunk_id": trunk["id"]},
                {"pattern": "00.", "action": "deny"},
            ],
        },
    )
    assert s == 201, cls
    s, grp, _ = await shared.call("POST", f"{base}/pickup-groups", json={"name": "sales"})
    s, ext, _ = await shared.call(
        "POST",
        f"{base}/extensions",
        json={
            "number": "200",
            "settings": {
                "cos": {"standard_class": cls["id"]},
                "pickup": {"member_of": [grp["id"]]},
            },
        },
    )
    assert s == 201, ext
    for path, who in (
        (f"{base}/trunks/carrier", "national"),
        (f"{base}/routing-classes/national", "200"),
        (f"{base}/pickup-groups/sales", "200"),
    ):
        s, out, _ = await shared.call("DELETE", path, if_match="*")
        assert s == 409, out
        assert [r["name"] for r in out["referenced_by"]] == [who]
    await shared.call(
        "POST",
        f"{base}/accounts",
        json={"username": f"u{own_tenant}", "password": "Password1", "extension": "200"},
    )
    s, out, _ = await shared.call("DELETE", f"{base}/extensions/200", if_match="*")
    assert s == 409 and out["referenced_by"][0]["name"] == f"u{own_tenant}"


async def test_malformed_bodies_are_400(shared: Running, own_tenant: str) -> None:
    path = f"/api/v1/tenants/{own_tenant}/extensions"
    s, out, _ = await shared.call(
        "POST", path, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert s == 400 and out["error"] == "bad_request"
    s, out, _ = await shared.call(
        "POST",
        path,
        data=b"number=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert s == 400
    s, out, _ = await shared.call("POST", path, json=[1, 2])
    assert s == 422 and out["fields"][0]["field"] == "$"
    s, out, _ = await shared.call("GET", path + "?limit=100000&sort=colour&bogus=1")
    assert s == 422
    assert {f["field"] for f in out["fields"]} == {"limit", "sort", "bogus"}


async def test_overflow_target_cannot_be_deleted_OVF_02(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    await shared.call("POST", f"{base}/extensions", json={"number": "600"})
    s, out, _ = await shared.call(
        "POST",
        f"{base}/extensions",
        json={
            "number": "601",
            "settings": {
                "overflow": {"external": {"no_answer": {"type": "extension", "target": "600"}}}
            },
        },
    )
    assert s == 201, out
    s, out, _ = await shared.call("DELETE", f"{base}/extensions/600", if_match="*")
    assert s == 409 and out["referenced_by"][0]["name"] == "601"


async def test_enabled_toggle_keeps_every_other_setting_EXT_07_ACC_06(
    shared: Running, own_tenant: str
) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, ext, _ = await shared.call(
        "POST",
        f"{base}/extensions",
        json={"number": "610", "first_name": "Kim", "settings": {"limits": {"call_limit": 3}}},
    )
    s, acc, _ = await shared.call(
        "POST",
        f"{base}/accounts",
        json={
            "username": f"k{own_tenant}",
            "password": "Password1",
            "extension": "610",
            "settings": {"nat": True, "audio_codecs": ["G722"]},
        },
    )
    for path, before in ((f"{base}/extensions/610", ext), (f"{base}/accounts/{acc['id']}", acc)):
        for value in (False, True):
            s, after, _ = await shared.call("PATCH", path, if_match="*", json={"enabled": value})
            assert s == 200 and after["enabled"] is value
        ignore = {"revision", "updated_at", "warnings"}
        assert {k: v for k, v in after.items() if k not in ignore} == {
            k: v for k, v in before.items() if k not in ignore
        }


async def test_catalog_rules(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, out, _ = await shared.call("POST", f"{base}/trunks", json={"name": "t"})
    assert s == 422 and out["fields"][0]["field"] == "host"
    s, out, _ = await shared.call(
        "POST",
        f"{base}/routing-classes",
        json={
            "name": "c",
            "rules": [
                {"pattern": "0Z.", "action": "allow"},
                {"pattern": "abc", "action": "deny", "trunk_id": None},
                {
                    "pattern": "00.",
                    "action": "deny",
                    "trunk_id": "00000000-0000-0000-0000-000000000001",
                },
            ],
        },
    )
    assert s == 422
    assert {f["field"] for f in out["fields"]} == {
        "rules[0].trunk_id",
        "rules[1].pattern",
        "rules[2].trunk_id",
    }
    s, out, _ = await shared.call(
        "POST",
        f"{base}/routing-classes",
        json={
            "name": "c",
            "rules": [
                {
                    "pattern": "0Z.",
                    "action": "allow",
                    "trunk_id": "00000000-0000-0000-0000-000000000001",
                }
            ],
        },
    )
    assert s == 422 and out["fields"][0]["reason"] == "no such trunk in this tenant"
    assert (await shared.call("POST", f"{base}/pickup-groups", json={"name": "g"}))[0] == 201
    s, out, _ = await shared.call("POST", f"{base}/pickup-groups", json={"name": "g"})
    assert s == 409

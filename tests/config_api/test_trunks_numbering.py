"""What the router needs from config-api for trunk calls: a trunk's outbound proxy,
registration interval, codecs, DIDs and default extension, and the tenant's numbering plan
(country code, prefixes, ENUM domain), over REST and over gRPC (FEAT-07, COS-01)."""

from __future__ import annotations

from typing import Any

from centralino.v1 import config_pb2

from .conftest import Running, config_events

NEW_FIELDS = (
    "outbound_proxy",
    "outbound_proxy_port",
    "expires",
    "codecs",
    "dids",
    "default_extension",
)


async def _extensions(api: Running, tenant: str, *numbers: str) -> None:
    for number in numbers:
        s, out, _ = await api.call(
            "POST", f"/api/v1/tenants/{tenant}/extensions", json={"number": number}
        )
        assert s == 201, out


async def _trunk(api: Running, tenant: str, name: str) -> dict[str, Any]:
    s, out, _ = await api.call("GET", f"/api/v1/tenants/{tenant}/trunks/{name}")
    assert s == 200, out
    return dict(out)


async def test_trunk_defaults_for_the_new_fields_FEAT_07(shared: Running, own_tenant: str) -> None:
    """FEAT-07: a trunk created without the new attributes gets the documented defaults, and
    ListTrunks serves them (no proxy, 3600 s registrations, media codecs, no DIDs)."""
    s, trunk, _ = await shared.call(
        "POST",
        f"/api/v1/tenants/{own_tenant}/trunks",
        json={"name": "plain", "host": "sip.example.com"},
    )
    assert s == 201, trunk
    assert {k: trunk[k] for k in NEW_FIELDS} == {
        "outbound_proxy": None,
        "outbound_proxy_port": 5060,
        "expires": 3600,
        "codecs": [],
        "dids": [],
        "default_extension": None,
    }
    (tr,) = (await shared.stub.ListTrunks(config_pb2.TenantRequest(tenant=own_tenant))).trunks
    assert (tr.outbound_proxy_host, tr.outbound_proxy_port, tr.expires) == ("", 0, 3600)
    assert list(tr.codecs) == [] and list(tr.dids) == [] and tr.default_extension == ""


async def test_trunk_dids_proxy_codecs_over_rest_and_grpc_FEAT_07_COS_01(
    shared: Running, own_tenant: str
) -> None:
    """FEAT-07 / COS-01: the outbound trunk a class routes to carries its proxy, interval and
    codecs; incoming DIDs map to extensions; both read back over REST and ListTrunks."""
    await _extensions(shared, own_tenant, "100", "200", "300")
    base = f"/api/v1/tenants/{own_tenant}/trunks"
    s, trunk, headers = await shared.call(
        "POST",
        base,
        json={
            "name": "carrier",
            "host": "sip.example.com",
            "password": "TrunkPass1",
            "register": True,
            "outbound_proxy": "proxy.example.com",
            "outbound_proxy_port": 5070,
            "expires": 600,
            "codecs": ["PCMA", "G.729", "opus"],
            "dids": [
                {"number": "+390612345", "extension": "100"},
                {"number": "0612346", "extension": "200"},
            ],
            "default_extension": "100",
        },
    )
    assert s == 201, trunk
    assert trunk["dids"] == [
        {"number": "+390612345", "extension": "100"},
        {"number": "0612346", "extension": "200"},
    ]
    read = await _trunk(shared, own_tenant, "carrier")
    assert {k: read[k] for k in NEW_FIELDS} == {k: trunk[k] for k in NEW_FIELDS}
    assert read["outbound_proxy"] == "proxy.example.com" and read["expires"] == 600

    s, patched, _ = await shared.call(
        "PATCH",
        f"{base}/{trunk['id']}",
        if_match=headers["ETag"],
        json={
            "codecs": ["PCMU"],
            "dids": [{"number": "390699", "extension": "300"}],
            "default_extension": None,
        },
    )
    assert s == 200, patched
    assert patched["revision"] == 2 and patched["expires"] == 600  # untouched keys stay
    assert patched["outbound_proxy_port"] == 5070

    (tr,) = (await shared.stub.ListTrunks(config_pb2.TenantRequest(tenant=own_tenant))).trunks
    assert (tr.outbound_proxy_host, tr.outbound_proxy_port, tr.expires) == (
        "proxy.example.com",
        5070,
        600,
    )
    assert list(tr.codecs) == ["PCMU"]
    assert [(d.number, d.extension) for d in tr.dids] == [("390699", "300")]
    assert tr.default_extension == "" and tr.password == "TrunkPass1" and tr.revision == 2

    # an extension a trunk rings can be neither deleted nor renumbered from under it
    s, out, _ = await shared.call(
        "DELETE", f"/api/v1/tenants/{own_tenant}/extensions/300", if_match="*"
    )
    assert s == 409 and out["referenced_by"][0]["kind"] == "trunk", out
    s, out, _ = await shared.call(
        "PATCH",
        f"/api/v1/tenants/{own_tenant}/extensions/300",
        if_match="*",
        json={"number": "301"},
    )
    assert s == 409 and out["referenced_by"][0]["attribute"] == "dids", out
    s, _, _ = await shared.call(
        "DELETE", f"/api/v1/tenants/{own_tenant}/extensions/100", if_match="*"
    )
    assert s == 204  # no longer referenced after the PATCH


async def test_invalid_trunk_values_name_the_field_and_change_nothing_FEAT_07(
    shared: Running, own_tenant: str
) -> None:
    """FEAT-07: each bad value is refused with a 4xx naming the attribute, and the stored
    trunk is left as it was."""
    await _extensions(shared, own_tenant, "100")
    base = f"/api/v1/tenants/{own_tenant}/trunks"
    s, trunk, _ = await shared.call(
        "POST",
        base,
        json={
            "name": "carrier",
            "host": "sip.example.com",
            "dids": [{"number": "0612345", "extension": "100"}],
        },
    )
    assert s == 201, trunk
    before = await _trunk(shared, own_tenant, "carrier")
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"outbound_proxy": "bad host!"}, {"outbound_proxy"}),
        ({"outbound_proxy_port": 0}, {"outbound_proxy_port"}),
        ({"outbound_proxy_port": 65536}, {"outbound_proxy_port"}),
        ({"expires": 59}, {"expires"}),
        ({"expires": 86401}, {"expires"}),
        ({"expires": "3600"}, {"expires"}),
        ({"codecs": "PCMA"}, {"codecs"}),
        ({"codecs": ["PCMA", "bad codec"]}, {"codecs[1]"}),
        ({"codecs": ["PCMA", "pcma"]}, {"codecs[1]"}),
        ({"codecs": [f"C{i}" for i in range(17)]}, {"codecs"}),
        ({"dids": {"0612345": "100"}}, {"dids"}),
        ({"dids": ["0612345"]}, {"dids[0]"}),
        ({"dids": [{"number": "06-12", "extension": "100"}]}, {"dids[0].number"}),
        ({"dids": [{"number": "1" * 21, "extension": "100"}]}, {"dids[0].number"}),
        ({"dids": [{"number": "0612345", "extension": "1a"}]}, {"dids[0].extension"}),
        ({"dids": [{"number": "0612345", "extension": "100", "x": 1}]}, {"dids[0]"}),
        (
            {
                "dids": [
                    {"number": "0612345", "extension": "100"},
                    {"number": "0612345", "extension": "100"},
                ]
            },
            {"dids[1].number"},
        ),
        (
            {"dids": [{"number": str(n), "extension": "100"} for n in range(1001)]},
            {"dids"},
        ),
        ({"dids": [{"number": "0612399", "extension": "999"}]}, {"dids[0].extension"}),
        ({"default_extension": "999"}, {"default_extension"}),
        ({"default_extension": "ext"}, {"default_extension"}),
    ]
    for change, fields in cases:
        s, out, _ = await shared.call("PATCH", f"{base}/carrier", if_match="*", json=change)
        assert s == 422, (change, s, out)
        assert {f["field"] for f in out["fields"]} == fields, (change, out)
        s, out, _ = await shared.call(
            "POST", base, json={"name": "other", "host": "h.example.com", **change}
        )
        assert s == 422 and {f["field"] for f in out["fields"]} == fields, (change, out)
    assert await _trunk(shared, own_tenant, "carrier") == before
    s, out, _ = await shared.call("GET", f"{base}?name=other")
    assert s == 200 and out["total"] == 0


async def test_numbering_plan_defaults_patch_and_revisions_FEAT_07_COS_01(
    shared: Running, own_tenant: str
) -> None:
    """FEAT-07 / COS-01: the tenant's numbering plan has usable defaults before anyone writes
    it (ENUM off); a PATCH is validated, revisioned with If-Match like service codes, served
    by GetNumberingPlan and announced through the outbox."""
    path = f"/api/v1/tenants/{own_tenant}/numbering-plan"
    req = config_pb2.TenantRequest(tenant=own_tenant)
    s, plan, headers = await shared.call("GET", path)
    assert s == 200, plan
    assert plan == {
        "country_code": "",
        "international_prefix": "00",
        "national_prefix": "0",
        "enum_suffix": "",
        "revision": 0,
    }
    pb = await shared.stub.GetNumberingPlan(req)
    assert (pb.country_code, pb.international_prefix, pb.national_prefix, pb.enum_suffix) == (
        "",
        "00",
        "0",
        "",
    )
    assert pb.revision == 0

    s, out, _ = await shared.call("PATCH", path, json={"country_code": "39"})
    assert s == 428, out  # If-Match is required
    s, out, headers = await shared.call(
        "PATCH",
        path,
        if_match=headers["ETag"],
        json={"country_code": "39", "enum_suffix": "e164.arpa"},
    )
    assert s == 200, out
    assert out["country_code"] == "39" and out["enum_suffix"] == "e164.arpa"
    assert out["revision"] == 1
    stale = '"0"'
    s, out, _ = await shared.call("PATCH", path, if_match=stale, json={"national_prefix": ""})
    assert s == 412, out
    s, out, _ = await shared.call(
        "PATCH", path, if_match=headers["ETag"], json={"national_prefix": None}
    )
    assert s == 200 and out["national_prefix"] == "" and out["revision"] == 2, out

    pb = await shared.stub.GetNumberingPlan(req)
    assert (pb.country_code, pb.international_prefix, pb.national_prefix, pb.enum_suffix) == (
        "39",
        "00",
        "",
        "e164.arpa",
    )
    assert pb.revision == 2

    events = await config_events(
        shared.nats_url, f"centralino.{own_tenant}.config.numbering_plan.>", 2
    )
    assert [(e.kind, e.op, e.revision) for e in events] == [
        ("numbering_plan", "updated", 1),
        ("numbering_plan", "updated", 2),
    ]


async def test_invalid_numbering_plan_names_the_field_and_changes_nothing_FEAT_07(
    shared: Running, own_tenant: str
) -> None:
    """FEAT-07: bad prefixes, country codes and ENUM domains are refused per field; the plan
    keeps its revision and values."""
    path = f"/api/v1/tenants/{own_tenant}/numbering-plan"
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"country_code": "0"}, {"country_code"}),
        ({"country_code": "1234"}, {"country_code"}),
        ({"country_code": 39}, {"country_code"}),
        ({"international_prefix": "00000"}, {"international_prefix"}),
        ({"international_prefix": "+"}, {"international_prefix"}),
        ({"national_prefix": "000"}, {"national_prefix"}),
        ({"enum_suffix": "bad domain"}, {"enum_suffix"}),
        ({"enum_suffix": "-e164.arpa"}, {"enum_suffix"}),
        ({"enum_suffix": "e164.arpa"}, {"country_code"}),  # ENUM needs a country code
        ({"national_prefix": "00"}, {"national_prefix"}),  # same as the international one
        ({"dial_prefix": "9"}, {"dial_prefix"}),
    ]
    for change, fields in cases:
        s, out, _ = await shared.call("PATCH", path, if_match="*", json=change)
        assert s == 422, (change, s, out)
        assert {f["field"] for f in out["fields"]} == fields, (change, out)
    s, plan, _ = await shared.call("GET", path)
    assert plan["revision"] == 0 and plan["international_prefix"] == "00"
    s, out, _ = await shared.call("GET", "/api/v1/tenants/nobody/numbering-plan")
    assert s == 404, out

"""Bulk import/export of extensions and accounts: per-row errors, all or nothing."""

from __future__ import annotations

from .conftest import Running


async def test_json_import_is_all_or_nothing_with_row_errors(
    shared: Running, own_tenant: str
) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    u = own_tenant
    rows = [
        {
            "number": "400",
            "first_name": "Ok",
            "accounts": [{"username": f"{u}a", "password": "Password1"}],
        },
        {"number": "40x"},
        {
            "number": "402",
            "accounts": [{"username": f"{u}c", "settings": {"audio_codecs": ["MP3"]}}],
        },
    ]
    s, out, _ = await shared.call("POST", f"{base}/import", json={"extensions": rows})
    assert s == 422 and out["applied"] is False
    assert [r["row"] for r in out["rows"]] == [1, 2]
    assert out["rows"][0]["fields"][0]["field"] == "number"
    assert out["rows"][1]["fields"][0]["field"] == "accounts[0].settings.audio_codecs"
    s, listing, _ = await shared.call("GET", f"{base}/extensions")
    assert listing["total"] == 0  # row 0 was valid but nothing was applied

    del rows[1]
    rows[1]["accounts"][0].pop("settings")
    s, out, _ = await shared.call("POST", f"{base}/import", json={"extensions": rows})
    assert s == 200 and out["applied"], out
    assert [g["username"] for g in out["generated_passwords"]] == [f"{u}c"]
    s, exported, _ = await shared.call("GET", f"{base}/export")
    assert [e["number"] for e in exported["extensions"]] == ["400", "402"]
    assert exported["extensions"][0]["accounts"][0]["username"] == f"{u}a"
    assert "password" not in str(exported)


async def test_csv_round_trip(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    u = own_tenant
    csv_text = (
        "number,first_name,last_name,username,password,audio_codecs\n"
        f"500,Ann,Bee,{u}x,Password1,PCMU;G722\n"
        "501,Bob,,,,\n"
    )
    s, out, _ = await shared.call(
        "POST", f"{base}/import", data=csv_text.encode(), headers={"Content-Type": "text/csv"}
    )
    assert s == 200, out
    s, acc, _ = await shared.call("GET", f"{base}/accounts/{u}x")
    assert acc["settings"]["audio_codecs"] == ["PCMU", "G722"] and acc["extension"] == "500"
    s, text, _ = await shared.call("GET", f"{base}/export?format=csv")
    lines = text.strip().splitlines()
    assert lines[0].startswith("number,") and lines[1].startswith("500,Ann,Bee")
    s, out, _ = await shared.call(
        "POST", f"{base}/import", data=b"colour\nred\n", headers={"Content-Type": "text/csv"}
    )
    assert s == 400

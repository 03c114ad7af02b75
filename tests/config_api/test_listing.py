"""Pagination, filtering and sorting of collections; the admin bootstrap."""

from __future__ import annotations

from centralino_config_api import users
from centralino_config_api.core import Core
from centralino_config_api.crypto import verify_password

from .conftest import Running


async def test_pagination_filter_sort(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}/extensions"
    rows = [
        {"number": str(n), "first_name": name, "enabled": n != 1000}
        for n, name in ((9, "Zoe"), (10, "Al"), (100, "Bea"), (1000, "Al"), (11, "Cy"))
    ]
    s, out, _ = await shared.call(
        "POST", f"/api/v1/tenants/{own_tenant}/import", json={"extensions": rows}
    )
    assert s == 200, out
    s, page, _ = await shared.call("GET", f"{base}?limit=2")
    assert page["total"] == 5 and [e["number"] for e in page["items"]] == ["9", "10"]
    s, page, _ = await shared.call("GET", f"{base}?limit=2&offset=4")
    assert [e["number"] for e in page["items"]] == ["1000"]  # numeric order, not text order
    s, page, _ = await shared.call("GET", f"{base}?sort=-number&limit=1")
    assert page["items"][0]["number"] == "1000"
    s, page, _ = await shared.call("GET", f"{base}?sort=first_name,-number")
    assert [e["number"] for e in page["items"]] == ["1000", "10", "100", "11", "9"]
    s, page, _ = await shared.call("GET", f"{base}?q=al&enabled=true")
    assert [e["number"] for e in page["items"]] == ["10"] and page["total"] == 1
    s, page, _ = await shared.call("GET", f"{base}?number=100")
    assert [e["first_name"] for e in page["items"]] == ["Bea"]
    s, page, _ = await shared.call("GET", f"{base}?q=%25")  # '%' is literal, not a wildcard
    assert page["total"] == 0


async def test_admin_is_generated_once_when_no_password_is_set(database_url: str) -> None:
    core = await Core.open(database_url, "k" * 20)
    try:
        async with core.tx() as conn:
            generated = await users.ensure_admin(conn, None)
            again = await users.ensure_admin(conn, None)
            stored = await conn.fetchval("SELECT password_hash FROM users WHERE username='admin'")
    finally:
        await core.close()
    assert generated and again is None
    assert verify_password(stored, generated)

"""Login, tokens, roles, tenant isolation, throttling and optimistic concurrency (USR)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Running


async def _setup_tenant(api: Running, name: str) -> dict[str, Any]:
    """A tenant with extension 200 (+ account), a tenant admin and a tenant user on 200."""
    base = f"/api/v1/tenants/{name}"
    assert (await api.call("POST", "/api/v1/tenants", json={"id": name, "name": name}))[0] == 201
    s, ext, _ = await api.call("POST", f"{base}/extensions", json={"number": "200"})
    assert s == 201, ext
    await api.call("POST", f"{base}/extensions", json={"number": "201"})
    s, acc, _ = await api.call(
        "POST",
        f"{base}/accounts",
        json={
            "username": name.replace("-", "") + "200",
            "password": "Password1",
            "extension": "200",
        },
    )
    assert s == 201, acc
    for user in (
        {"username": f"{name}-boss", "password": "boss-pass-1", "role": "tenant_admin"},
        {"username": f"{name}-ann", "password": "ann-pass-12", "extension": "200"},
    ):
        s, out, _ = await api.call("POST", f"{base}/users", json=user)
        assert s == 201, out
    return {
        "boss": await api.login(f"{name}-boss", "boss-pass-1"),
        "ann": await api.login(f"{name}-ann", "ann-pass-12"),
        "ext": ext,
        "acc": acc,
    }


async def test_tenant_isolation_cannot_be_crossed(shared: Running) -> None:
    a = await _setup_tenant(shared, "iso-a")
    b = await _setup_tenant(shared, "iso-b")
    boss_a = a["boss"]
    # reading, listing, writing and deleting in another tenant: all "not found"
    for method, path, body in (
        ("GET", "/api/v1/tenants/iso-b", None),
        ("GET", "/api/v1/tenants/iso-b/extensions", None),
        ("GET", f"/api/v1/tenants/iso-b/extensions/{b['ext']['id']}", None),
        ("GET", f"/api/v1/tenants/iso-b/accounts/{b['acc']['id']}", None),
        ("POST", "/api/v1/tenants/iso-b/extensions", {"number": "999"}),
        ("DELETE", f"/api/v1/tenants/iso-b/accounts/{b['acc']['id']}", None),
        ("GET", "/api/v1/tenants/iso-b/export", None),
    ):
        s, out, _ = await shared.call(method, path, boss_a, json=body, if_match="*")
        assert s == 404, (method, path, out)
    # an id from tenant B under tenant A's path is not found either
    s, _, _ = await shared.call("GET", f"/api/v1/tenants/iso-a/extensions/{b['ext']['id']}", boss_a)
    assert s == 404
    # references across tenants are refused
    s, grp, _ = await shared.call("POST", "/api/v1/tenants/iso-b/pickup-groups", json={"name": "g"})
    s, out, _ = await shared.call(
        "PATCH",
        "/api/v1/tenants/iso-a/extensions/200",
        boss_a,
        if_match="*",
        json={"settings": {"pickup": {"member_of": [grp["id"]]}}},
    )
    assert s == 422 and out["fields"][0]["field"] == "settings.pickup.member_of"
    s, out, _ = await shared.call(
        "POST",
        "/api/v1/tenants/iso-a/accounts",
        boss_a,
        json={"username": "isoa201", "password": "Password1", "extension": "999"},
    )
    assert s == 422
    # tenant listing shows only one's own tenant
    s, out, _ = await shared.call("GET", "/api/v1/tenants", boss_a)
    assert [t["id"] for t in out["items"]] == ["iso-a"]
    # admin-only routes
    for method, path in (
        ("POST", "/api/v1/tenants"),
        ("PATCH", "/api/v1/sip-settings"),
        ("GET", "/api/v1/users"),
    ):
        s, _, _ = await shared.call(method, path, boss_a, json={}, if_match="*")
        assert s == 403


async def test_tenant_user_sees_and_edits_only_allowed_fields_of_own_extension(
    shared: Running,
) -> None:
    t = await _setup_tenant(shared, "self-t")
    ann = t["ann"]
    s, out, _ = await shared.call("GET", "/api/v1/tenants/self-t/extensions", ann)
    assert s == 403
    s, mine, h = await shared.call("GET", "/api/v1/me/extension", ann)
    assert s == 200 and mine["number"] == "200"
    s, out, h = await shared.call(
        "PATCH",
        "/api/v1/me/extension",
        ann,
        if_match=h["ETag"],
        json={
            "voicemail_email": "ann@example.com",
            "service_pin": "4321",
            "settings": {"voicemail": {"notify_email": True}},
        },
    )
    assert s == 200, out
    assert out["voicemail_email"] == "ann@example.com" and out["service_pin_set"]
    for body in (
        {"number": "555"},
        {"settings": {"limits": {"call_limit": 0}}},
        {"first_name": "X"},
    ):
        s, out, _ = await shared.call("PATCH", "/api/v1/me/extension", ann, if_match="*", json=body)
        assert s == 403, (body, out)
    s, out, _ = await shared.call("GET", "/api/v1/tenants/self-t/extensions/200")
    assert out["number"] == "200" and out["first_name"] is None


async def test_etag_if_match_prevents_silent_overwrite(shared: Running, own_tenant: str) -> None:
    path = f"/api/v1/tenants/{own_tenant}/extensions"
    s, _ext, h = await shared.call("POST", path, json={"number": "700"})
    etag = h["ETag"]
    s, out, _ = await shared.call("PATCH", f"{path}/700", json={"first_name": "A"})
    assert s == 428  # If-Match is required
    s, out, h2 = await shared.call("PATCH", f"{path}/700", json={"first_name": "A"}, if_match=etag)
    assert s == 200 and h2["ETag"] != etag
    s, out, h3 = await shared.call(
        "PATCH", f"{path}/700", json={"first_name": "B"}, if_match=etag
    )  # the second admin's stale copy
    assert s == 412 and h3["ETag"] == h2["ETag"]
    s, out, _ = await shared.call("GET", f"{path}/700")
    assert out["first_name"] == "A"


async def test_failed_logins_are_throttled(shared: Running) -> None:
    s, _, _ = await shared.call(
        "POST",
        "/api/v1/users",
        json={"username": "locked-out", "password": "right-pass-1", "role": "admin"},
    )
    assert s == 201
    url = shared.base + "/api/v1/auth/login"
    statuses = []
    for _ in range(7):
        async with shared.http.post(url, json={"username": "locked-out", "password": "x"}) as r:
            statuses.append(r.status)
            retry = r.headers.get("Retry-After")
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429 and retry and int(retry) >= 1
    # even the right password is refused while locked out
    async with shared.http.post(
        url, json={"username": "locked-out", "password": "right-pass-1"}
    ) as r:
        assert r.status == 429


async def test_api_tokens_and_logout(shared: Running) -> None:
    s, tok, _ = await shared.call("POST", "/api/v1/auth/tokens", json={"name": "ci"})
    assert s == 201
    s, me, _ = await shared.call("GET", "/api/v1/me", tok["token"])
    assert s == 200 and me["role"] == "admin"
    s, _, _ = await shared.call("POST", "/api/v1/auth/logout", tok["token"])
    assert s == 204
    s, _, _ = await shared.call("GET", "/api/v1/me", tok["token"])
    assert s == 401
    s, _, _ = await shared.call("GET", "/api/v1/me", "cnt_forged")
    assert s == 401
    async with shared.http.get(shared.base + "/api/v1/tenants") as r:
        assert r.status == 401 and "Bearer" in r.headers["WWW-Authenticate"]


async def test_local_user_from_the_extension_panel_USR_02_to_07(
    shared: Running, own_tenant: str
) -> None:
    path = f"/api/v1/tenants/{own_tenant}/extensions"
    s, out, _ = await shared.call(
        "POST", path, json={"number": "210", "local_user": {"enabled": False, "cti_access": True}}
    )
    assert s == 422 and out["fields"][0]["field"] == "local_user.cti_access"
    s, out, _ = await shared.call(
        "POST",
        path,
        json={"number": "210", "local_user": {"enabled": True, "username": f"{own_tenant}-u"}},
    )
    assert s == 422 and out["fields"][0]["field"] == "local_user.password"
    s, ext, h = await shared.call(
        "POST",
        path,
        json={
            "number": "210",
            "local_user": {
                "enabled": True,
                "username": f"{own_tenant}-u",
                "password": "local-pass-1",
            },
        },
    )
    assert s == 201, ext
    assert ext["local_user"]["role"] == "tenant_user" and ext["local_user"]["gui_access"]
    token = await shared.login(f"{own_tenant}-u", "local-pass-1")  # USR-03/USR-07
    s, mine, _ = await shared.call("GET", "/api/v1/me/extension", token)
    assert mine["number"] == "210"
    # GUI access off: the user can no longer log in
    s, ext, _ = await shared.call(
        "PATCH", f"{path}/210", if_match=h["ETag"], json={"local_user": {"gui_access": False}}
    )
    assert s == 200 and ext["local_user"]["gui_access"] is False
    async with shared.http.post(
        shared.base + "/api/v1/auth/login",
        json={"username": f"{own_tenant}-u", "password": "local-pass-1"},
    ) as r:
        assert r.status == 401
    # "Create local user" = No removes it
    s, ext, _ = await shared.call(
        "PATCH", f"{path}/210", if_match="*", json={"local_user": {"enabled": False}}
    )
    assert s == 200 and ext["local_user"] == {"enabled": False}


async def test_licence_routes_are_admin_only(shared: Running, own_tenant: str) -> None:
    """Routes mounted from licences_routes get the same authentication, admins only."""
    assert shared.service.runner is not None
    paths = {
        r.resource.canonical
        for r in shared.service.runner.app.router.routes()
        if r.resource is not None
    }
    if "/api/v1/licenses" not in paths:
        pytest.skip("licences_routes is not part of this build")
    s, _, _ = await shared.call(
        "POST",
        f"/api/v1/tenants/{own_tenant}/users",
        json={"username": f"{own_tenant}-lic", "password": "lic-pass-12", "role": "tenant_admin"},
    )
    assert s == 201
    boss = await shared.login(f"{own_tenant}-lic", "lic-pass-12")
    async with shared.http.get(shared.base + "/api/v1/licenses") as r:
        assert r.status == 401
    s, _, _ = await shared.call("GET", "/api/v1/licenses", boss)
    assert s == 403


async def test_role_change_changes_permissions_USR_04(shared: Running, own_tenant: str) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    await shared.call("POST", f"{base}/extensions", json={"number": "220"})
    s, user, _ = await shared.call(
        "POST",
        f"{base}/users",
        json={"username": f"{own_tenant}-r", "password": "role-pass-1", "extension": "220"},
    )
    assert s == 201 and user["role"] == "tenant_user"
    token = await shared.login(f"{own_tenant}-r", "role-pass-1")
    assert (await shared.call("GET", f"{base}/extensions", token))[0] == 403
    s, out, _ = await shared.call(
        "PATCH", f"{base}/users/{user['id']}", if_match="*", json={"extension": None}
    )
    assert s == 422  # a tenant user without an extension could do nothing
    s, out, _ = await shared.call(
        "PATCH", f"{base}/users/{user['id']}", if_match="*", json={"role": "tenant_admin"}
    )
    assert s == 200, out
    assert (await shared.call("GET", f"{base}/extensions", token))[0] == 200

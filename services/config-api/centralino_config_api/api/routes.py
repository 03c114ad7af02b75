"""REST resources under /api/v1. Each handler is one transaction (Core.tx)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiohttp import web

from centralino_config_api import accounts, extensions, singletons, tenants, users
from centralino_config_api.api import bulk
from centralino_config_api.api.http import (
    CORE,
    REGISTRY,
    TOKENS,
    body_json,
    if_match,
    principal,
    reply,
)
from centralino_config_api.api.registry import Registry
from centralino_config_api.catalog import KINDS, Kind
from centralino_config_api.catalog import view as catalog_view
from centralino_config_api.common import check_keys, require_object, storable
from centralino_config_api.errors import FieldProblem, Forbidden, ValidationFailed
from centralino_config_api.listing import Collection, Filter, parse
from centralino_config_api.templates import ACCOUNT_TEMPLATE, EXTENSION_TEMPLATE, TemplateKind
from centralino_config_api.templates import view as template_view

V1 = "/api/v1"
T = V1 + "/tenants/{tenant}"
LIST_QUERY = (
    ("limit", "integer", "page size, 1-500 (default 50)"),
    ("offset", "integer", "items to skip"),
    ("sort", "string", "comma-separated keys, '-' prefix for descending"),
)

#: what a tenant user may change on its own extension (voicemail e-mail, PIN, mobile...)
SELF_FIELDS = {"voicemail_email", "service_pin", "mobile", "settings"}
SELF_SETTINGS = {
    "voicemail.notify_email",
    "voicemail.attach",
    "voicemail.delete_after_email",
    "phonebook.show_in_local",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    }


def _listed(items: list[Any], total: int, limit: int, offset: int) -> web.Response:
    return reply({"items": items, "total": total, "limit": limit, "offset": offset})


# -- auth -------------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    body = require_object(await body_json(request))
    check_keys(body, {"username", "password"})
    username, password = body.get("username"), body.get("password")
    problems = [
        FieldProblem(k, "is required (a string)")
        for k, v in (("username", username), ("password", password))
        if not isinstance(v, str) or not v or not storable(v)
    ]
    if problems:
        raise ValidationFailed("invalid login", problems)
    # no enclosing transaction: a failed attempt must be counted even though we answer 401
    async with request.app[CORE].read() as conn:
        token, p = await users.login(conn, str(username), str(password), request.remote or "")
    return reply(
        {
            "token": token,
            "token_type": "Bearer",
            "role": p.role,
            "tenant": p.tenant,
            "expires_in": int(users.SESSION_TTL.total_seconds()),
        }
    )


async def logout(request: web.Request) -> web.Response:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    async with request.app[CORE].tx() as conn:
        await users.revoke(conn, token)
    request.app[TOKENS].drop(token)
    return web.Response(status=204)


async def create_api_token(request: web.Request) -> web.Response:
    body = require_object(await body_json(request))
    check_keys(body, {"name", "expires_in_days"})
    name = body.get("name")
    days = body.get("expires_in_days")
    problems = []
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not storable(name):
        problems.append(FieldProblem("name", "must be 1-64 characters"))
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650
    ):
        problems.append(FieldProblem("expires_in_days", "must be 1-3650 or null"))
    if problems:
        raise ValidationFailed("invalid token request", problems)
    p = principal(request)
    async with request.app[CORE].tx() as conn:
        token = await users.issue_token(
            conn,
            uuid.UUID(p.user_id),
            "api",
            name,  # type: ignore[arg-type]
            None if days is None else timedelta(days=days),
        )
    return reply({"token": token, "token_type": "Bearer", "name": name}, status=201)


async def me(request: web.Request) -> web.Response:
    p = principal(request)
    return reply(
        {
            "user_id": p.user_id,
            "username": p.username,
            "role": p.role,
            "tenant": p.tenant,
            "extension_id": p.extension_id,
        }
    )


def _own_extension(request: web.Request) -> tuple[str, str]:
    p = principal(request)
    if p.tenant is None or p.extension_id is None:
        raise Forbidden("this user has no extension")
    return p.tenant, p.extension_id


async def get_my_extension(request: web.Request) -> web.Response:
    tenant, ext_id = _own_extension(request)
    async with request.app[CORE].read() as conn:
        item = await request.app[CORE].extensions.get(conn, tenant, ext_id)
    return reply(item, revision=item["revision"])


async def patch_my_extension(request: web.Request) -> web.Response:
    tenant, ext_id = _own_extension(request)
    body = require_object(await body_json(request))
    problems = [FieldProblem(k, "users may not change this") for k in body if k not in SELF_FIELDS]
    core = request.app[CORE]
    if "settings" in body:
        flat = extensions.EXTENSION_SETTINGS.flatten(body["settings"], "settings")
        problems += [
            FieldProblem(f"settings.{k}", "users may not change this")
            for k in flat
            if k not in SELF_SETTINGS
        ]
    if problems:
        raise Forbidden(
            "you may change only "
            + ", ".join(sorted(SELF_FIELDS - {"settings"}))
            + " and settings "
            + ", ".join(sorted(SELF_SETTINGS))
            + "; not "
            + ", ".join(p.field for p in problems)
        )
    expected = if_match(request)
    async with core.tx() as conn:
        item = await core.extensions.update(conn, tenant, ext_id, body, expected)
        assert item is not None
    return reply(item, revision=item["revision"])


# -- tenants ----------------------------------------------------------------------------

TENANTS = Collection(
    filters={"q": Filter("(id ILIKE {p} OR name ILIKE {p})", "search")},
    sorts={"id": "id", "name": "name", "created_at": "created_at"},
    default_sort="id",
)


async def list_tenants(request: web.Request) -> web.Response:
    p = principal(request)
    page = parse(request.query, TENANTS, [])
    if p.role != "admin":
        page.where.append(f"id = {page.arg(p.tenant)}")
    async with request.app[CORE].read() as conn:
        rows = await page.fetch(conn, "SELECT *, count(*) OVER () AS total FROM tenants WHERE true")
    return _listed(
        [tenants.view(r) for r in rows], rows[0]["total"] if rows else 0, page.limit, page.offset
    )


async def create_tenant(request: web.Request) -> web.Response:
    body = await body_json(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        item = await tenants.create(conn, body, core.licences)
    return reply(item, 201, item["revision"])


async def get_tenant(request: web.Request) -> web.Response:
    async with request.app[CORE].read() as conn:
        item = await tenants.get(conn, request.match_info["tenant"])
    return reply(item, revision=item["revision"])


async def patch_tenant(request: web.Request) -> web.Response:
    body = await body_json(request)
    expected = if_match(request)
    async with request.app[CORE].tx() as conn:
        item = await tenants.update(conn, request.match_info["tenant"], body, expected)
    return reply(item, revision=item["revision"])


async def delete_tenant(request: web.Request) -> web.Response:
    expected = if_match(request)
    async with request.app[CORE].tx() as conn:
        await tenants.delete(conn, request.match_info["tenant"], expected)
    return web.Response(status=204)


# -- extensions and accounts ------------------------------------------------------------


async def _tenant_exists(conn: Any, tenant: str) -> None:
    await tenants.get(conn, tenant)


async def list_extensions(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    page = parse(request.query, extensions.COLLECTION, [tenant])
    core = request.app[CORE]
    async with core.read() as conn:
        items, total = await core.extensions.list_page(conn, page)
    return _listed(items, total, page.limit, page.offset)


async def create_extension(request: web.Request) -> web.Response:
    body = await body_json(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        item = await core.extensions.create(conn, request.match_info["tenant"], body)
        assert item is not None
    return reply(item, 201, item["revision"])


async def get_extension(request: web.Request) -> web.Response:
    core = request.app[CORE]
    async with core.read() as conn:
        item = await core.extensions.get(
            conn, request.match_info["tenant"], request.match_info["ext"]
        )
    return reply(item, revision=item["revision"])


async def patch_extension(request: web.Request) -> web.Response:
    body = await body_json(request)
    expected = if_match(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        item = await core.extensions.update(
            conn, request.match_info["tenant"], request.match_info["ext"], body, expected
        )
        assert item is not None
    return reply(item, revision=item["revision"])


async def delete_extension(request: web.Request) -> web.Response:
    expected = if_match(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        await core.extensions.delete(
            conn, request.match_info["tenant"], request.match_info["ext"], expected
        )
    return web.Response(status=204)


async def list_extension_accounts(request: web.Request) -> web.Response:
    core = request.app[CORE]
    tenant = request.match_info["tenant"]
    async with core.read() as conn:
        ext = await core.extensions.row(conn, tenant, request.match_info["ext"])
        rows = await core.accounts.of_extension(conn, tenant, ext["id"])
        transports = await core.accounts.transports(conn)
    items = [accounts.view(r, transports) for r in rows]
    return _listed(items, len(items), len(items), 0)


async def list_accounts(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    page = parse(request.query, accounts.COLLECTION, [tenant])
    core = request.app[CORE]
    async with core.read() as conn:
        await _tenant_exists(conn, tenant)
        items, total = await core.accounts.list_page(conn, page)
    return _listed(items, total, page.limit, page.offset)


async def create_account(request: web.Request) -> web.Response:
    body = await body_json(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        item = await core.accounts.create(conn, request.match_info["tenant"], body)
        assert item is not None
    return reply(item, 201, item["revision"])


async def get_account(request: web.Request) -> web.Response:
    core = request.app[CORE]
    async with core.read() as conn:
        item = await core.accounts.get(
            conn, request.match_info["tenant"], request.match_info["acc"]
        )
    return reply(item, revision=item["revision"])


async def patch_account(request: web.Request) -> web.Response:
    body = await body_json(request)
    expected = if_match(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        item = await core.accounts.update(
            conn, request.match_info["tenant"], request.match_info["acc"], body, expected
        )
        assert item is not None
    return reply(item, revision=item["revision"])


async def delete_account(request: web.Request) -> web.Response:
    expected = if_match(request)
    core = request.app[CORE]
    async with core.tx() as conn:
        await core.accounts.delete(
            conn, request.match_info["tenant"], request.match_info["acc"], expected
        )
    return web.Response(status=204)


# -- templates and catalog (generic over kinds) -----------------------------------------

NAMED = Collection(
    filters={"name": Filter("name = {p}"), "q": Filter("name ILIKE {p}", "search")},
    sorts={"name": "name", "created_at": "created_at", "updated_at": "updated_at"},
    default_sort="name",
)


def template_routes(reg: Registry, kind: TemplateKind, segment: str, schema: str) -> None:
    base = f"{T}/{segment}"
    item = base + "/{id}"
    label = kind.kind.replace("_", " ")

    async def list_(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        page = parse(request.query, NAMED, [tenant, kind.kind])
        async with request.app[CORE].read() as conn:
            await _tenant_exists(conn, tenant)
            rows = await page.fetch(
                conn,
                "SELECT *, count(*) OVER () AS total FROM catalog WHERE tenant = $1 AND kind = $2",
            )
        return _listed(
            [template_view(kind, r) for r in rows],
            rows[0]["total"] if rows else 0,
            page.limit,
            page.offset,
        )

    async def create(request: web.Request) -> web.Response:
        body = await body_json(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            out = await core.templates.create(conn, kind, request.match_info["tenant"], body)
        return reply(out, 201, out["revision"])

    async def get(request: web.Request) -> web.Response:
        core = request.app[CORE]
        async with core.read() as conn:
            row = await core.templates.row(
                conn, kind, request.match_info["tenant"], request.match_info["id"]
            )
        return reply(template_view(kind, row), revision=row["revision"])

    async def patch(request: web.Request) -> web.Response:
        body = await body_json(request)
        expected = if_match(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            out = await core.templates.update(
                conn, kind, request.match_info["tenant"], request.match_info["id"], body, expected
            )
        return reply(out, revision=out["revision"])

    async def delete(request: web.Request) -> web.Response:
        expected = if_match(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            await core.templates.delete(
                conn, kind, request.match_info["tenant"], request.match_info["id"], expected
            )
        return web.Response(status=204)

    reg.add(
        "GET",
        base,
        list_,
        f"List {label}s",
        access="tenant_read",
        tag="templates",
        response=_page(schema),
        query=(*LIST_QUERY, ("name", "string", "exact name"), ("q", "string", "name substring")),
    )
    reg.add(
        "POST",
        base,
        create,
        f"Create an {label}",
        access="tenant_write",
        tag="templates",
        request=_ref(schema + "Write"),
        response=_ref(schema),
        status=201,
        extra_responses=(409, 422),
    )
    reg.add(
        "GET",
        item,
        get,
        f"Get an {label} (by id or name)",
        access="tenant_read",
        tag="templates",
        response=_ref(schema),
    )
    reg.add(
        "PATCH",
        item,
        patch,
        f"Change an {label}; items that use it follow (TPL-03)",
        access="tenant_write",
        tag="templates",
        request=_ref(schema + "Write"),
        response=_ref(schema),
        conditional=True,
        extra_responses=(409, 422),
    )
    reg.add(
        "DELETE",
        item,
        delete,
        f"Delete an unused {label}",
        access="tenant_write",
        tag="templates",
        status=204,
        conditional=True,
        extra_responses=(409,),
    )


def catalog_routes(reg: Registry, kind: Kind, segment: str, schema: str) -> None:
    base = f"{T}/{segment}"
    item = base + "/{id}"
    label = kind.kind.replace("_", " ")

    async def list_(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        page = parse(request.query, NAMED, [tenant, kind.kind])
        async with request.app[CORE].read() as conn:
            await _tenant_exists(conn, tenant)
            rows = await page.fetch(
                conn,
                "SELECT *, count(*) OVER () AS total FROM catalog WHERE tenant = $1 AND kind = $2",
            )
        return _listed(
            [catalog_view(kind, r) for r in rows],
            rows[0]["total"] if rows else 0,
            page.limit,
            page.offset,
        )

    async def create(request: web.Request) -> web.Response:
        body = await body_json(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            out = await core.catalog.create(conn, kind, request.match_info["tenant"], body)
        return reply(out, 201, out["revision"])

    async def get(request: web.Request) -> web.Response:
        core = request.app[CORE]
        async with core.read() as conn:
            row = await core.catalog.get_row(
                conn, kind, request.match_info["tenant"], request.match_info["id"]
            )
        return reply(catalog_view(kind, row), revision=row["revision"])

    async def patch(request: web.Request) -> web.Response:
        body = await body_json(request)
        expected = if_match(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            out = await core.catalog.update(
                conn, kind, request.match_info["tenant"], request.match_info["id"], body, expected
            )
        return reply(out, revision=out["revision"])

    async def delete(request: web.Request) -> web.Response:
        expected = if_match(request)
        core = request.app[CORE]
        async with core.tx() as conn:
            await core.catalog.delete(
                conn, kind, request.match_info["tenant"], request.match_info["id"], expected
            )
        return web.Response(status=204)

    reg.add(
        "GET",
        base,
        list_,
        f"List {label}s",
        access="tenant_read",
        tag="catalog",
        response=_page(schema),
        query=(*LIST_QUERY, ("name", "string", "exact name"), ("q", "string", "name substring")),
    )
    reg.add(
        "POST",
        base,
        create,
        f"Create a {label}",
        access="tenant_write",
        tag="catalog",
        request=_ref(schema + "Write"),
        response=_ref(schema),
        status=201,
        extra_responses=(409, 422),
    )
    reg.add(
        "GET",
        item,
        get,
        f"Get a {label} (by id or name)",
        access="tenant_read",
        tag="catalog",
        response=_ref(schema),
    )
    reg.add(
        "PATCH",
        item,
        patch,
        f"Change a {label}",
        access="tenant_write",
        tag="catalog",
        request=_ref(schema + "Write"),
        response=_ref(schema),
        conditional=True,
        extra_responses=(409, 422),
    )
    reg.add(
        "DELETE",
        item,
        delete,
        f"Delete a {label} nobody references",
        access="tenant_write",
        tag="catalog",
        status=204,
        conditional=True,
        extra_responses=(409,),
    )


# -- singletons -------------------------------------------------------------------------


async def get_sip_settings(request: web.Request) -> web.Response:
    async with request.app[CORE].read() as conn:
        doc, revision = await singletons.load(conn, singletons.SIP)
    return reply(singletons.view(doc, revision), revision=revision)


async def patch_sip_settings(request: web.Request) -> web.Response:
    body = await body_json(request)
    expected = if_match(request)
    async with request.app[CORE].tx() as conn:
        doc, revision = await singletons.update(conn, singletons.SIP, body, expected)
    return reply(singletons.view(doc, revision), revision=revision)


def tenant_singleton_routes(
    reg: Registry, kind: str, segment: str, schema: str, read_summary: str, write_summary: str
) -> None:
    """GET and PATCH of one per-tenant settings document (service codes, numbering plan)."""

    async def get_(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        async with request.app[CORE].read() as conn:
            await _tenant_exists(conn, tenant)
            doc, revision = await singletons.load(conn, kind, tenant)
        return reply(singletons.view(doc, revision), revision=revision)

    async def patch_(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        body = await body_json(request)
        expected = if_match(request)
        async with request.app[CORE].tx() as conn:
            await _tenant_exists(conn, tenant)
            doc, revision = await singletons.update(conn, kind, body, expected, tenant)
        return reply(singletons.view(doc, revision), revision=revision)

    path = f"{T}/{segment}"
    reg.add(
        "GET",
        path,
        get_,
        read_summary,
        access="tenant_read",
        tag="settings",
        response=_ref(schema),
    )
    reg.add(
        "PATCH",
        path,
        patch_,
        write_summary,
        access="tenant_write",
        tag="settings",
        request=_ref(f"{schema}Write"),
        response=_ref(schema),
        conditional=True,
        extra_responses=(422,),
    )


# -- users ------------------------------------------------------------------------------

USERS = Collection(
    filters={
        "username": Filter("username = {p}"),
        "role": Filter("role = {p}"),
        "q": Filter("username ILIKE {p}", "search"),
    },
    sorts={"username": "username", "created_at": "created_at"},
    default_sort="username",
)


def user_routes(reg: Registry, base: str, access: tuple[str, str], tenant_scoped: bool) -> None:
    item = base + "/{user}"

    def scope(request: web.Request) -> str | None:
        return request.match_info["tenant"] if tenant_scoped else None

    async def list_(request: web.Request) -> web.Response:
        tenant = scope(request)
        page = parse(request.query, USERS, [tenant])
        async with request.app[CORE].read() as conn:
            if tenant:
                await _tenant_exists(conn, tenant)
            rows = await page.fetch(
                conn,
                "SELECT *, count(*) OVER () AS total FROM users "
                "WHERE tenant IS NOT DISTINCT FROM $1",
            )
        return _listed(
            [users.view(r) for r in rows], rows[0]["total"] if rows else 0, page.limit, page.offset
        )

    async def create(request: web.Request) -> web.Response:
        body = await body_json(request)
        async with request.app[CORE].tx() as conn:
            out = await users.create(conn, scope(request), body)
        return reply(out, 201, out["revision"])

    async def get(request: web.Request) -> web.Response:
        async with request.app[CORE].read() as conn:
            row = await users.row_of(conn, scope(request), request.match_info["user"])
        return reply(users.view(row), revision=row["revision"])

    async def patch(request: web.Request) -> web.Response:
        body = await body_json(request)
        expected = if_match(request)
        async with request.app[CORE].tx() as conn:
            out = await users.update(
                conn, scope(request), request.match_info["user"], body, expected
            )
        request.app[TOKENS].clear()
        return reply(out, revision=out["revision"])

    async def delete(request: web.Request) -> web.Response:
        expected = if_match(request)
        async with request.app[CORE].tx() as conn:
            await users.delete(conn, scope(request), request.match_info["user"], expected)
        request.app[TOKENS].clear()
        return web.Response(status=204)

    read, write = access
    what = "tenant users" if tenant_scoped else "PBX administrators"
    reg.add(
        "GET",
        base,
        list_,
        f"List {what}",
        access=read,
        tag="users",
        response=_page("User"),
        query=(
            *LIST_QUERY,
            ("username", "string", "exact"),
            ("role", "string", "role"),
            ("q", "string", "substring"),
        ),
    )
    reg.add(
        "POST",
        base,
        create,
        f"Create one of the {what}",
        access=write,
        tag="users",
        request=_ref("UserWrite"),
        response=_ref("User"),
        status=201,
        extra_responses=(409, 422),
    )
    reg.add(
        "GET",
        item,
        get,
        "Get a user (by id or username)",
        access=read,
        tag="users",
        response=_ref("User"),
    )
    reg.add(
        "PATCH",
        item,
        patch,
        "Change a user (USR-04)",
        access=write,
        tag="users",
        request=_ref("UserWrite"),
        response=_ref("User"),
        conditional=True,
        extra_responses=(409, 422),
    )
    reg.add(
        "DELETE",
        item,
        delete,
        "Delete a user",
        access=write,
        tag="users",
        status=204,
        conditional=True,
    )


async def openapi(request: web.Request) -> web.Response:
    from centralino_config_api.api.openapi import document

    return reply(document(request.app[REGISTRY], request.app))


def build_registry() -> Registry:
    reg = Registry()
    reg.add(
        "GET",
        V1 + "/openapi.json",
        openapi,
        "This OpenAPI 3 document",
        access="public",
        tag="meta",
        response={"type": "object"},
    )
    reg.add(
        "POST",
        V1 + "/auth/login",
        login,
        "Log in; returns a bearer token",
        access="public",
        tag="auth",
        request=_ref("Login"),
        response=_ref("Token"),
        extra_responses=(401, 422, 429),
    )
    reg.add(
        "POST",
        V1 + "/auth/logout",
        logout,
        "Revoke the token used",
        access="authenticated",
        tag="auth",
        status=204,
    )
    reg.add(
        "POST",
        V1 + "/auth/tokens",
        create_api_token,
        "Create an API token for automation",
        access="authenticated",
        tag="auth",
        request=_ref("ApiTokenRequest"),
        response=_ref("Token"),
        status=201,
        extra_responses=(422,),
    )
    reg.add(
        "GET", V1 + "/me", me, "Who am I", access="authenticated", tag="auth", response=_ref("Me")
    )
    reg.add(
        "GET",
        V1 + "/me/extension",
        get_my_extension,
        "A tenant user's own extension",
        access="authenticated",
        tag="self",
        response=_ref("Extension"),
    )
    reg.add(
        "PATCH",
        V1 + "/me/extension",
        patch_my_extension,
        "Change one's own voicemail e-mail, PIN, mobile and voicemail preferences",
        access="authenticated",
        tag="self",
        request=_ref("ExtensionWrite"),
        response=_ref("Extension"),
        conditional=True,
        extra_responses=(403, 422),
    )

    reg.add(
        "GET",
        V1 + "/tenants",
        list_tenants,
        "List tenants",
        access="authenticated",
        tag="tenants",
        response=_page("Tenant"),
        query=(*LIST_QUERY, ("q", "string", "id or name substring")),
    )
    reg.add(
        "POST",
        V1 + "/tenants",
        create_tenant,
        "Create a tenant; any but the first needs Multi-Tenant (LIC-04)",
        access="admin",
        tag="tenants",
        request=_ref("TenantCreate"),
        response=_ref("Tenant"),
        status=201,
        extra_responses=(402, 409, 422, 503),
    )
    reg.add(
        "GET",
        T,
        get_tenant,
        "Get a tenant",
        access="tenant_read",
        tag="tenants",
        response=_ref("Tenant"),
    )
    reg.add(
        "PATCH",
        T,
        patch_tenant,
        "Rename a tenant",
        access="admin",
        tag="tenants",
        request=_ref("TenantUpdate"),
        response=_ref("Tenant"),
        conditional=True,
        extra_responses=(422,),
    )
    reg.add(
        "DELETE",
        T,
        delete_tenant,
        "Delete an empty tenant",
        access="admin",
        tag="tenants",
        status=204,
        conditional=True,
        extra_responses=(409,),
    )

    ext_q = tuple(
        (k, "boolean" if f.kind == "bool" else "string", f.doc or k)
        for k, f in extensions.COLLECTION.filters.items()
    )
    reg.add(
        "GET",
        T + "/extensions",
        list_extensions,
        "List extensions",
        access="tenant_read",
        tag="extensions",
        response=_page("Extension"),
        query=(*LIST_QUERY, *ext_q),
    )
    reg.add(
        "POST",
        T + "/extensions",
        create_extension,
        "Create an extension (EXT-06)",
        access="tenant_write",
        tag="extensions",
        request=_ref("ExtensionWrite"),
        response=_ref("Extension"),
        status=201,
        extra_responses=(409, 422),
    )
    reg.add(
        "GET",
        T + "/extensions/{ext}",
        get_extension,
        "Get an extension by id or number, with effective settings and their sources",
        access="tenant_read",
        tag="extensions",
        response=_ref("Extension"),
    )
    reg.add(
        "PATCH",
        T + "/extensions/{ext}",
        patch_extension,
        "Change an extension: settings become overrides, reset makes them inherit again",
        access="tenant_write",
        tag="extensions",
        request=_ref("ExtensionWrite"),
        response=_ref("Extension"),
        conditional=True,
        extra_responses=(409, 422),
    )
    reg.add(
        "DELETE",
        T + "/extensions/{ext}",
        delete_extension,
        "Delete an extension without accounts",
        access="tenant_write",
        tag="extensions",
        status=204,
        conditional=True,
        extra_responses=(409,),
    )
    reg.add(
        "GET",
        T + "/extensions/{ext}/accounts",
        list_extension_accounts,
        "The SIP accounts of an extension (EXT-03)",
        access="tenant_read",
        tag="extensions",
        response=_page("Account"),
    )

    acc_q = tuple(
        (k, "boolean" if f.kind == "bool" else "string", f.doc or k)
        for k, f in accounts.COLLECTION.filters.items()
    )
    reg.add(
        "GET",
        T + "/accounts",
        list_accounts,
        "List SIP accounts (never with passwords)",
        access="tenant_read",
        tag="accounts",
        response=_page("Account"),
        query=(*LIST_QUERY, *acc_q),
    )
    reg.add(
        "POST",
        T + "/accounts",
        create_account,
        "Create a SIP account (ACC-05)",
        access="tenant_write",
        tag="accounts",
        request=_ref("AccountWrite"),
        response=_ref("Account"),
        status=201,
        extra_responses=(409, 422),
    )
    reg.add(
        "GET",
        T + "/accounts/{acc}",
        get_account,
        "Get a SIP account by id or username",
        access="tenant_read",
        tag="accounts",
        response=_ref("Account"),
    )
    reg.add(
        "PATCH",
        T + "/accounts/{acc}",
        patch_account,
        "Change a SIP account",
        access="tenant_write",
        tag="accounts",
        request=_ref("AccountWrite"),
        response=_ref("Account"),
        conditional=True,
        extra_responses=(409, 422),
    )
    reg.add(
        "DELETE",
        T + "/accounts/{acc}",
        delete_account,
        "Delete a SIP account",
        access="tenant_write",
        tag="accounts",
        status=204,
        conditional=True,
    )

    template_routes(reg, EXTENSION_TEMPLATE, "extension-templates", "ExtensionTemplate")
    template_routes(reg, ACCOUNT_TEMPLATE, "account-templates", "AccountTemplate")
    catalog_routes(reg, KINDS["pickup_group"], "pickup-groups", "PickupGroup")
    catalog_routes(reg, KINDS["routing_class"], "routing-classes", "RoutingClass")
    catalog_routes(reg, KINDS["trunk"], "trunks", "Trunk")

    tenant_singleton_routes(
        reg,
        singletons.CODES,
        "service-codes",
        "ServiceCodes",
        "Numbering-plan service codes",
        "Change service codes",
    )
    tenant_singleton_routes(
        reg,
        singletons.PLAN,
        "numbering-plan",
        "NumberingPlan",
        "Numbering plan: country code, dialling prefixes, ENUM domain",
        "Change the numbering plan",
    )
    reg.add(
        "GET",
        V1 + "/sip-settings",
        get_sip_settings,
        "Global SIP settings",
        access="authenticated",
        tag="settings",
        response=_ref("SipSettings"),
    )
    reg.add(
        "PATCH",
        V1 + "/sip-settings",
        patch_sip_settings,
        "Change global SIP settings",
        access="admin",
        tag="settings",
        request=_ref("SipSettingsWrite"),
        response=_ref("SipSettings"),
        conditional=True,
        extra_responses=(422,),
    )

    user_routes(reg, V1 + "/users", ("admin", "admin"), tenant_scoped=False)
    user_routes(reg, T + "/users", ("tenant_read", "tenant_write"), tenant_scoped=True)
    bulk.add_routes(reg)
    return reg

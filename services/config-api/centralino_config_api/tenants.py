"""Tenants: the isolation boundary of every other entity."""

from __future__ import annotations

from typing import Any

import asyncpg

from centralino.bus.subjects import SYSTEM_TENANT
from centralino_config_api.common import check_keys, check_revision, iso, not_found, require_object
from centralino_config_api.db import record_change
from centralino_config_api.errors import Conflict, FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldInvalid, text
from centralino_config_api.licence_gate import MULTI_TENANT, LicenceGate

TENANT_ID = text(
    "id",
    None,
    "tenant slug (used in NATS subjects)",
    pattern=r"[a-z0-9][a-z0-9_-]{0,31}",
    why="must be 1-32 of a-z 0-9 _ - starting with a letter or digit",
    max_length=32,
    nullable=False,
)
TENANT_NAME = text("name", None, "display name", max_length=128, nullable=False)


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _parse(body: Any, create: bool) -> dict[str, Any]:
    body = require_object(body)
    check_keys(
        body,
        {"id", "name"} if create else {"name"},
        {"revision", "created_at", "updated_at"} | (set() if create else {"id"}),
    )
    out, problems = {}, []
    for f in (TENANT_ID, TENANT_NAME) if create else (TENANT_NAME,):
        if f.path in body or create:
            try:
                out[f.path] = f.check(body.get(f.path))
            except FieldInvalid as exc:
                problems.append(FieldProblem(f.path, str(exc)))
    if problems:
        raise ValidationFailed("invalid tenant", problems)
    return out


async def get(conn: Any, tenant: str) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM tenants WHERE id = $1", tenant)
    if row is None:
        raise not_found("tenant", tenant)
    return view(row)


async def _licensed_as_new(conn: Any, tenant: str, licences: LicenceGate) -> bool:
    """False when ``tenant`` exists; otherwise make sure creating it is licensed (LIC-04)."""
    # Serialised so two concurrent creations cannot both count zero and be "the first".
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('config:tenant-create'))")
    if await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant):
        return False
    if await conn.fetchval("SELECT count(*) FROM tenants"):
        await licences.require(MULTI_TENANT)
    return True


async def ensure(conn: Any, tenant: str, name: str, licences: LicenceGate | None = None) -> bool:
    """Create ``tenant`` if missing; True when created. With ``licences`` as in create()."""
    if licences is not None and not await _licensed_as_new(conn, tenant, licences):
        return False
    created = await conn.fetchval(
        "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        tenant,
        name,
    )
    if created:
        await record_change(conn, SYSTEM_TENANT, "tenant", tenant, "created", 1, tenant)
    return bool(created)


async def create(conn: Any, body: Any, licences: LicenceGate | None = None) -> dict[str, Any]:
    """Create a tenant; with ``licences``, any but the first needs Multi-Tenant (LIC-04)."""
    data = _parse(body, True)
    if data["id"] == SYSTEM_TENANT.lstrip("_"):
        raise ValidationFailed("invalid tenant", [FieldProblem("id", "is reserved")])
    if licences is not None and not await _licensed_as_new(conn, data["id"], licences):
        raise Conflict(f"tenant {data['id']!r} already exists")
    try:
        row = await conn.fetchrow(
            "INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING *", data["id"], data["name"]
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"tenant {data['id']!r} already exists") from None
    await record_change(conn, SYSTEM_TENANT, "tenant", row["id"], "created", 1, row["id"])
    return view(row)


async def update(conn: Any, tenant: str, body: Any, expected: int | None) -> dict[str, Any]:
    data = _parse(body, False)
    row = await conn.fetchrow("SELECT * FROM tenants WHERE id = $1 FOR UPDATE", tenant)
    if row is None:
        raise not_found("tenant", tenant)
    check_revision("tenant", row["revision"], expected)
    row = await conn.fetchrow(
        "UPDATE tenants SET name = $2, revision = revision + 1, updated_at = now() "
        "WHERE id = $1 RETURNING *",
        tenant,
        data.get("name", row["name"]),
    )
    await record_change(conn, SYSTEM_TENANT, "tenant", tenant, "updated", row["revision"], tenant)
    return view(row)


async def delete(conn: Any, tenant: str, expected: int | None) -> None:
    row = await conn.fetchrow("SELECT * FROM tenants WHERE id = $1 FOR UPDATE", tenant)
    if row is None:
        raise not_found("tenant", tenant)
    check_revision("tenant", row["revision"], expected)
    users = []
    for table in ("extensions", "catalog", "users"):
        n = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant = $1", tenant)
        if n:
            users.append({"kind": table, "id": "", "name": f"{n} {table}", "attribute": "tenant"})
    if users:
        raise Conflict(f"tenant {tenant!r} is not empty", users)
    await conn.execute("DELETE FROM settings WHERE tenant = $1", tenant)
    await conn.execute("DELETE FROM tenants WHERE id = $1", tenant)
    await record_change(
        conn, SYSTEM_TENANT, "tenant", tenant, "deleted", row["revision"] + 1, tenant
    )

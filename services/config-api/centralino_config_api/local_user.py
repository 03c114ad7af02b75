"""The extension panel's "Local user settings" (USR-01..07): at most one user per extension.

``local_user`` in an extension body is ``{"enabled", "username", "password", "gui_access",
"cti_access"}``; ``enabled`` is "Create local user". Turning it off deletes the user (its
tokens go with it); GUI or CTI access without a local user is refused (USR-02).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from centralino_config_api.crypto import hash_password
from centralino_config_api.db import record_change
from centralino_config_api.errors import FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldInvalid, boolean
from centralino_config_api.users import PASSWORD, USERNAME

ENABLED = boolean("local_user.enabled", False, "create a local user", req="USR-02")
GUI = boolean("local_user.gui_access", True, "web GUI access (role Tenant User)", req="USR-03")
CTI = boolean("local_user.cti_access", False, "KalliopeCTI access", req="USR-05")
KEYS = {"enabled", "username", "password", "gui_access", "cti_access"}


def parse(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationFailed(
            "invalid local user", [FieldProblem("local_user", "must be an object")]
        )
    problems = [FieldProblem(f"local_user.{k}", "unknown field") for k in raw if k not in KEYS]
    out: dict[str, Any] = {}
    for key, f in (
        ("enabled", ENABLED),
        ("gui_access", GUI),
        ("cti_access", CTI),
        ("username", USERNAME),
        ("password", PASSWORD),
    ):
        if key in raw:
            try:
                out[key] = f.check(raw[key])
            except FieldInvalid as exc:
                problems.append(FieldProblem(f"local_user.{key}", str(exc)))
    if problems:
        raise ValidationFailed("invalid local user", problems)
    return out


def view(row: Any) -> dict[str, Any]:
    if row["user_id"] is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "id": str(row["user_id"]),
        "username": row["user_username"],
        "role": row["user_role"],
        "gui_access": row["user_gui"],
        "cti_access": row["user_cti"],
    }


async def sync(conn: Any, tenant: str, ext_id: uuid.UUID, spec: dict[str, Any]) -> None:
    current = await conn.fetchrow("SELECT * FROM users WHERE extension_id = $1", ext_id)
    enabled = spec.get("enabled", current is not None)
    if not enabled:
        granted = [k for k in ("gui_access", "cti_access") if spec.get(k)]
        if granted:
            raise ValidationFailed(
                "invalid local user",
                [
                    FieldProblem(
                        f"local_user.{k}", "needs a local user (local_user.enabled) first (USR-02)"
                    )
                    for k in granted
                ],
            )
        if current is not None:
            await conn.execute("DELETE FROM users WHERE id = $1", current["id"])
            await record_change(
                conn,
                tenant,
                "user",
                str(current["id"]),
                "deleted",
                current["revision"] + 1,
                current["username"],
            )
        return
    if current is None:
        missing = [k for k in ("username", "password") if k not in spec]
        if missing:
            raise ValidationFailed(
                "invalid local user",
                [
                    FieldProblem(f"local_user.{k}", "is required to create the local user (USR-07)")
                    for k in missing
                ],
            )
    digest = (
        await asyncio.to_thread(hash_password, spec["password"])
        if "password" in spec
        else current["password_hash"]
    )
    try:
        if current is None:
            row = await conn.fetchrow(
                "INSERT INTO users (tenant, username, password_hash, role, extension_id, "
                "gui_access, cti_access) VALUES ($1, $2, $3, 'tenant_user', $4, $5, $6) "
                "RETURNING id, username, revision",
                tenant,
                spec["username"],
                digest,
                ext_id,
                spec.get("gui_access", True),
                spec.get("cti_access", False),
            )
            op = "created"
        else:
            row = await conn.fetchrow(
                "UPDATE users SET username = $2, password_hash = $3, gui_access = $4, "
                "cti_access = $5, revision = revision + 1, updated_at = now() WHERE id = $1 "
                "RETURNING id, username, revision",
                current["id"],
                spec.get("username", current["username"]),
                digest,
                spec.get("gui_access", current["gui_access"]),
                spec.get("cti_access", current["cti_access"]),
            )
            op = "updated"
            if "password" in spec:
                await conn.execute("DELETE FROM api_tokens WHERE user_id = $1", current["id"])
    except asyncpg.UniqueViolationError:
        # shown against the field, like any other panel error
        raise ValidationFailed(
            "invalid local user", [FieldProblem("local_user.username", "is already taken")]
        ) from None
    await record_change(conn, tenant, "user", str(row["id"]), op, row["revision"], row["username"])

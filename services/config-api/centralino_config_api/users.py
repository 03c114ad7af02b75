"""Users, roles, login tokens and login throttling (USR, and the admin API's own access).

Roles: ``admin`` (the whole PBX), ``tenant_admin`` (one tenant), ``tenant_user`` (one
extension's own allowed fields). Tokens are random strings of which only a SHA-256 is kept;
session tokens expire, API tokens for automation do not unless given a lifetime.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from centralino_config_api.common import check_keys, check_revision, iso, not_found, require_object
from centralino_config_api.crypto import hash_password, new_token, token_digest, verify_password
from centralino_config_api.db import record_change
from centralino_config_api.errors import (
    Conflict,
    FieldProblem,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
)
from centralino_config_api.fields import FieldInvalid, boolean, choice, text

ROLES = ("admin", "tenant_admin", "tenant_user")
SESSION_TTL = timedelta(hours=12)
#: failures allowed before the lock-out starts; each further failure doubles it
FREE_FAILURES = 5
FREE_FAILURES_ANY_SOURCE = 25
MAX_LOCK_SECONDS = 900
#: a failure older than this is forgotten
FORGET_SECONDS = 900

USERNAME = text(
    "username",
    None,
    "login name",
    pattern=r"[A-Za-z0-9][A-Za-z0-9._@\-]{0,63}",
    why="must be 1-64 of letters, digits . _ @ -",
    nullable=False,
    req="USR-07",
)
PASSWORD = text(
    "password", None, "login password", min_length=8, max_length=128, nullable=False, req="USR-07"
)
ROLE = choice("role", ROLES, "tenant_user", "role")
FLAGS = (
    boolean("enabled", True, "may log in"),
    boolean("gui_access", True, "web GUI access", req="USR-03"),
    boolean("cti_access", False, "CTI client access", req="USR-05"),
)

# A verification against a dummy hash keeps the timing of unknown usernames like known ones.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    role: str
    tenant: str | None
    extension_id: str | None
    token_kind: str


def view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "role": row["role"],
        "tenant": row["tenant"],
        "extension_id": None if row["extension_id"] is None else str(row["extension_id"]),
        "enabled": row["enabled"],
        "gui_access": row["gui_access"],
        "cti_access": row["cti_access"],
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def ensure_admin(conn: Any, password: str | None) -> str | None:
    """Make sure ``admin`` exists; with ``password`` set it to that. Returns a generated
    password when one had to be invented (no password given, no admin yet)."""
    row = await conn.fetchrow("SELECT id, password_hash FROM users WHERE username = 'admin'")
    generated = None
    if password is None:
        if row is not None:
            return None
        password = generated = secrets.token_urlsafe(12)
    elif row is not None and await asyncio.to_thread(
        verify_password, row["password_hash"], password
    ):
        return None
    digest = await asyncio.to_thread(hash_password, password)
    if row is None:
        await conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('admin', $1, 'admin')",
            digest,
        )
    else:
        await conn.execute(
            "UPDATE users SET password_hash = $1, enabled = true, role = 'admin', "
            "tenant = NULL WHERE id = $2",
            digest,
            row["id"],
        )
        await conn.execute(
            "DELETE FROM api_tokens WHERE user_id = $1 AND kind = 'session'", row["id"]
        )
    return generated


_FAILED = (
    "INSERT INTO login_failures (key, failures) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET"
    " failures = {n}, last_failure = now(),"
    " locked_until = CASE WHEN {n} > $2::int THEN now() + make_interval(secs =>"
    " least($3::float8, 2 ^ ({n} - $2::int))) END"
).format(
    # failures older than the forget window no longer count
    n="(CASE WHEN login_failures.last_failure < now() - make_interval(secs => $4::float8)"
    " THEN 1 ELSE login_failures.failures + 1 END)"
)


def _throttle_keys(username: str, client: str) -> list[tuple[str, int]]:
    """(key, free failures): per user and source address, so a guesser is slowed down
    quickly without locking the user out from everywhere; and per user, more leniently,
    against guessing spread over many addresses."""
    name = username.lower()
    return [(f"ip:{client}|{name}", FREE_FAILURES), (f"user:{name}", FREE_FAILURES_ANY_SOURCE)]


async def login(conn: Any, username: str, password: str, client: str = "") -> tuple[str, Principal]:
    keys = _throttle_keys(username, client)
    locked = await conn.fetchval(
        "SELECT max(ceil(extract(epoch FROM locked_until - now()))) FROM login_failures "
        "WHERE key = ANY($1::text[]) AND locked_until > now()",
        [k for k, _ in keys],
    )
    if locked:
        raise TooManyAttempts("too many failed logins; try again later", retry_after=int(locked))
    row = await conn.fetchrow("SELECT * FROM users WHERE username = $1", username)
    ok = await asyncio.to_thread(
        verify_password, row["password_hash"] if row else _DUMMY_HASH, password
    )
    if not ok or row is None or not row["enabled"] or not row["gui_access"]:
        for key, free in keys:
            await conn.execute(_FAILED, key, free, MAX_LOCK_SECONDS, FORGET_SECONDS)
        raise Unauthorized("wrong username or password")
    await conn.execute(
        "DELETE FROM login_failures WHERE key = ANY($1::text[])", [k for k, _ in keys]
    )
    token = await issue_token(conn, row["id"], "session", "login", SESSION_TTL)
    return token, _principal(row, "session")


async def issue_token(
    conn: Any, user_id: uuid.UUID, kind: str, name: str, ttl: timedelta | None
) -> str:
    token = new_token()
    await conn.execute(
        "INSERT INTO api_tokens (user_id, token_hash, kind, name, expires_at) "
        "VALUES ($1, $2, $3, $4, CASE WHEN $5::interval IS NULL THEN NULL ELSE now() + $5 END)",
        user_id,
        token_digest(token),
        kind,
        name,
        ttl,
    )
    return token


def _principal(row: Any, kind: str) -> Principal:
    return Principal(
        user_id=str(row["id"]),
        username=row["username"],
        role=row["role"],
        tenant=row["tenant"],
        extension_id=None if row["extension_id"] is None else str(row["extension_id"]),
        token_kind=kind,
    )


async def resolve(conn: Any, token: str) -> Principal:
    row = await conn.fetchrow(
        "SELECT u.*, t.kind AS token_kind FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > now()) "
        "AND u.enabled",
        token_digest(token),
    )
    if row is None:
        raise Unauthorized("invalid or expired token")
    return _principal(row, row["token_kind"])


async def revoke(conn: Any, token: str) -> None:
    await conn.execute("DELETE FROM api_tokens WHERE token_hash = $1", token_digest(token))


def _parse(body: Any, *, create: bool) -> dict[str, Any]:
    body = require_object(body)
    allowed = {"username", "password", "role", "extension", "enabled", "gui_access", "cti_access"}
    check_keys(
        body, allowed, {"id", "tenant", "revision", "created_at", "updated_at", "extension_id"}
    )
    out: dict[str, Any] = {}
    problems = []
    for f in (USERNAME, PASSWORD, ROLE, *FLAGS):
        if f.path in body or (create and f.path in ("username", "password")):
            try:
                out[f.path] = f.check(body.get(f.path))
            except FieldInvalid as exc:
                problems.append(FieldProblem(f.path, str(exc)))
    if "extension" in body:
        ext = body["extension"]
        if ext is not None and not (isinstance(ext, str) and ext.isdigit()):
            problems.append(FieldProblem("extension", "must be an extension number or null"))
        out["extension"] = ext
    if problems:
        raise ValidationFailed("invalid user", problems)
    return out


async def _extension_id(conn: Any, tenant: str | None, number: str | None) -> uuid.UUID | None:
    if number is None:
        return None
    ext = await conn.fetchval(
        "SELECT id FROM extensions WHERE tenant = $1 AND number = $2", tenant, number
    )
    if ext is None:
        raise ValidationFailed(
            "unknown extension", [FieldProblem("extension", f"no extension {number}")]
        )
    return ext  # type: ignore[no-any-return]


async def create(conn: Any, tenant: str | None, body: Any) -> dict[str, Any]:
    """``tenant`` None creates PBX admins; otherwise tenant admins/users of that tenant
    (USR-01: at most one user per extension)."""
    data = _parse(body, create=True)
    role = data.get("role", "admin" if tenant is None else "tenant_user")
    if (role == "admin") != (tenant is None):
        raise ValidationFailed(
            "invalid role",
            [FieldProblem("role", "admins are created at /users, tenant users under their tenant")],
        )
    ext_id = await _extension_id(conn, tenant, data.get("extension"))
    if role == "tenant_user" and ext_id is None:
        raise ValidationFailed(
            "invalid user",
            [FieldProblem("extension", "a tenant user belongs to an extension (USR-01)")],
        )
    digest = await asyncio.to_thread(hash_password, data["password"])
    try:
        row = await conn.fetchrow(
            "INSERT INTO users (tenant, username, password_hash, role, extension_id, enabled, "
            "gui_access, cti_access) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
            tenant,
            data["username"],
            digest,
            role,
            ext_id,
            data.get("enabled", True),
            data.get("gui_access", True),
            data.get("cti_access", False),
        )
    except asyncpg.ForeignKeyViolationError:
        raise not_found("tenant", tenant or "") from None
    except asyncpg.UniqueViolationError as exc:
        what = (
            "extension already has a user (USR-01)"
            if "extension" in str(exc)
            else (f"username {data['username']!r} is taken")
        )
        raise Conflict(what) from None
    await record_change(
        conn, tenant or "_system", "user", str(row["id"]), "created", 1, row["username"]
    )
    return view(row)


async def row_of(conn: Any, tenant: str | None, key: str) -> Any:
    try:
        uid: Any = uuid.UUID(key)
        cond = "id = $2"
    except ValueError:
        uid, cond = key, "username = $2"
    row = await conn.fetchrow(
        f"SELECT * FROM users WHERE tenant IS NOT DISTINCT FROM $1 AND {cond}", tenant, uid
    )
    if row is None:
        raise not_found("user", key)
    return row


async def update(
    conn: Any, tenant: str | None, key: str, body: Any, expected: int | None
) -> dict[str, Any]:
    data = _parse(body, create=False)
    row = await row_of(conn, tenant, key)
    check_revision("user", row["revision"], expected)
    if "role" in data and (data["role"] == "admin") != (tenant is None):
        raise ValidationFailed("invalid role", [FieldProblem("role", "cannot move across scopes")])
    ext_id = (
        await _extension_id(conn, tenant, data["extension"])
        if "extension" in data
        else row["extension_id"]
    )
    if data.get("role", row["role"]) == "tenant_user" and ext_id is None:
        raise ValidationFailed(
            "invalid user",
            [FieldProblem("extension", "a tenant user belongs to an extension (USR-01)")],
        )
    digest = (
        await asyncio.to_thread(hash_password, data["password"])
        if "password" in data
        else row["password_hash"]
    )
    try:
        row = await conn.fetchrow(
            "UPDATE users SET username = $2, password_hash = $3, role = $4, extension_id = $5, "
            "enabled = $6, gui_access = $7, cti_access = $8, revision = revision + 1, "
            "updated_at = now() WHERE id = $1 RETURNING *",
            row["id"],
            data.get("username", row["username"]),
            digest,
            data.get("role", row["role"]),
            ext_id,
            data.get("enabled", row["enabled"]),
            data.get("gui_access", row["gui_access"]),
            data.get("cti_access", row["cti_access"]),
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("username taken, or the extension already has a user") from None
    if "password" in data or not row["enabled"]:
        await conn.execute("DELETE FROM api_tokens WHERE user_id = $1", row["id"])
    await record_change(
        conn,
        tenant or "_system",
        "user",
        str(row["id"]),
        "updated",
        row["revision"],
        row["username"],
    )
    return view(row)


async def delete(conn: Any, tenant: str | None, key: str, expected: int | None) -> None:
    row = await row_of(conn, tenant, key)
    check_revision("user", row["revision"], expected)
    if row["username"] == "admin" and tenant is None:
        raise Conflict("the built-in admin cannot be deleted")
    await conn.execute("DELETE FROM users WHERE id = $1", row["id"])
    await record_change(
        conn,
        tenant or "_system",
        "user",
        str(row["id"]),
        "deleted",
        row["revision"] + 1,
        row["username"],
    )

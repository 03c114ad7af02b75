"""Extension and SIP-account templates (TPL): named partial settings documents.

A template stores only the attributes it sets. Editing one re-checks every item that uses
it against the rules (so a template edit can never leave an item invalid), then bumps each
user's revision and emits its event in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from centralino_config_api.accounts import Accounts
from centralino_config_api.catalog import DESCRIPTION, NAME, referrers
from centralino_config_api.common import check_keys, check_revision, iso, not_found, require_object
from centralino_config_api.db import record_change
from centralino_config_api.errors import Conflict, FieldProblem, ValidationFailed
from centralino_config_api.extensions import check_references
from centralino_config_api.fields import FieldInvalid, FieldSet, nest
from centralino_config_api.inheritance import merge, parse_reset
from centralino_config_api.model import ACCOUNT_SETTINGS, EXTENSION_SETTINGS
from centralino_config_api.rules import check_account, check_extension


class TemplateUsers(Protocol):
    async def revalidate_template(
        self, conn: Any, tenant: str, template_id: uuid.UUID, template: dict[str, Any]
    ) -> list[FieldProblem]: ...

    async def touch_template_users(
        self, conn: Any, tenant: str, template_id: uuid.UUID
    ) -> None: ...


@dataclass(frozen=True)
class TemplateKind:
    kind: str
    fields: FieldSet


EXTENSION_TEMPLATE = TemplateKind("extension_template", EXTENSION_SETTINGS)
ACCOUNT_TEMPLATE = TemplateKind("account_template", ACCOUNT_SETTINGS)
WRITABLE = {"name", "description", "settings", "reset"}
READ_ONLY = {"id", "tenant", "revision", "created_at", "updated_at", "used_by"}


def view(kind: TemplateKind, row: Any) -> dict[str, Any]:
    data = dict(row["data"])
    description = data.pop("_description", None)
    return {
        "id": str(row["id"]),
        "tenant": row["tenant"],
        "name": row["name"],
        "description": description,
        "settings": nest(data),
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


class Templates:
    def __init__(self, extensions: TemplateUsers, accounts: Accounts) -> None:
        self.accounts = accounts
        self.users: dict[str, TemplateUsers] = {
            EXTENSION_TEMPLATE.kind: extensions,
            ACCOUNT_TEMPLATE.kind: accounts,
        }

    async def row(
        self, conn: Any, kind: TemplateKind, tenant: str, key: str, *, lock: bool = False
    ) -> Any:
        try:
            uid = uuid.UUID(key)
        except ValueError:
            cond, arg = "name = $3", key
        else:
            cond, arg = "id = $3", uid  # type: ignore[assignment]
        row = await conn.fetchrow(
            f"SELECT * FROM catalog WHERE tenant = $1 AND kind = $2 AND {cond}"
            f"{' FOR UPDATE' if lock else ''}",
            tenant,
            kind.kind,
            arg,
        )
        if row is None:
            raise not_found(kind.kind, key)
        return row

    def _parse(
        self, kind: TemplateKind, body: Any, current: dict[str, Any], create: bool
    ) -> tuple[str | None, dict[str, Any]]:
        body = require_object(body)
        check_keys(body, WRITABLE, READ_ONLY)
        problems: list[FieldProblem] = []
        name = None
        if create or "name" in body:
            try:
                name = NAME.check(body.get("name"))
            except FieldInvalid as exc:
                problems.append(FieldProblem("name", str(exc)))
        data = dict(current)
        try:
            data.update(kind.fields.flatten(body.get("settings") or {}, "settings"))
            for path in parse_reset(kind.fields, body.get("reset")):
                data.pop(path, None)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        if "description" in body:
            try:
                data["_description"] = DESCRIPTION.check(body["description"])
            except FieldInvalid as exc:
                problems.append(FieldProblem("description", str(exc)))
        if problems:
            raise ValidationFailed("invalid template", problems)
        return name, data

    async def _check(
        self, conn: Any, kind: TemplateKind, tenant: str, data: dict[str, Any]
    ) -> None:
        settings = {k: v for k, v in data.items() if not k.startswith("_")}
        eff = merge(kind.fields, settings, {}).values
        if kind is EXTENSION_TEMPLATE:
            problems = check_extension(None, eff, has_pin=False, number="").problems
            problems += await check_references(conn, tenant, eff)
        else:
            transports = await self.accounts.transports(conn)
            problems = check_account(eff, transports).problems
        if problems:
            raise ValidationFailed("invalid template", problems)

    async def create(self, conn: Any, kind: TemplateKind, tenant: str, body: Any) -> dict[str, Any]:
        name, data = self._parse(kind, body, {}, create=True)
        await self._check(conn, kind, tenant, data)
        try:
            row = await conn.fetchrow(
                "INSERT INTO catalog (tenant, kind, name, data) "
                "VALUES ($1, $2, $3, $4) RETURNING *",
                tenant,
                kind.kind,
                name,
                data,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a template named {name!r} already exists") from None
        except asyncpg.ForeignKeyViolationError:
            raise not_found("tenant", tenant) from None
        await record_change(conn, tenant, kind.kind, str(row["id"]), "created", 1, name or "")
        return view(kind, row)

    async def update(
        self, conn: Any, kind: TemplateKind, tenant: str, key: str, body: Any, expected: int | None
    ) -> dict[str, Any]:
        row = await self.row(conn, kind, tenant, key, lock=True)
        check_revision(kind.kind, row["revision"], expected)
        name, data = self._parse(kind, body, row["data"], create=False)
        await self._check(conn, kind, tenant, data)
        users = self.users[kind.kind]
        settings = {k: v for k, v in data.items() if not k.startswith("_")}
        problems = await users.revalidate_template(conn, tenant, row["id"], settings)
        if problems:
            raise ValidationFailed(
                "the template change would make items that use it invalid", problems
            )
        try:
            row = await conn.fetchrow(
                "UPDATE catalog SET name = $2, data = $3, revision = revision + 1, "
                "updated_at = now() WHERE id = $1 RETURNING *",
                row["id"],
                name or row["name"],
                data,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a template named {name!r} already exists") from None
        await record_change(
            conn, tenant, kind.kind, str(row["id"]), "updated", row["revision"], row["name"]
        )
        await users.touch_template_users(conn, tenant, row["id"])
        return view(kind, row)

    async def delete(
        self, conn: Any, kind: TemplateKind, tenant: str, key: str, expected: int | None
    ) -> None:
        row = await self.row(conn, kind, tenant, key, lock=True)
        check_revision(kind.kind, row["revision"], expected)
        users = await referrers(conn, tenant, kind.kind, str(row["id"]))
        if users:
            raise Conflict(f"template {row['name']!r} is still in use", users)
        await conn.execute("DELETE FROM catalog WHERE id = $1", row["id"])
        await record_change(
            conn, tenant, kind.kind, str(row["id"]), "deleted", row["revision"] + 1, row["name"]
        )

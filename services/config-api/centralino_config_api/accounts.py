"""SIP accounts (ACC): storage, validation, views and the registrar's effective record."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from centralino_config_api import singletons
from centralino_config_api.common import (
    as_uuid,
    check_keys,
    check_revision,
    iso,
    not_found,
    require_object,
)
from centralino_config_api.crypto import SecretBox
from centralino_config_api.db import record_change, record_changes
from centralino_config_api.errors import Conflict, FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldInvalid
from centralino_config_api.inheritance import Effective, apply_changes, merge
from centralino_config_api.listing import Collection, Filter, Page
from centralino_config_api.model import ACCOUNT_PROPS, ACCOUNT_SETTINGS, SIP_PASSWORD
from centralino_config_api.rules import check_account

KIND = "account"
TEMPLATE_KIND = "account_template"
WRITABLE = {*ACCOUNT_PROPS.fields, "password", "template_id", "settings", "reset"}
READ_ONLY = {
    "id",
    "tenant",
    "revision",
    "sources",
    "extension_id",
    "created_at",
    "updated_at",
    "warnings",
    "effective_transports",
}

COLLECTION = Collection(
    filters={
        "username": Filter("a.username = {p}"),
        "extension": Filter("e.number = {p}", doc="extension number"),
        "enabled": Filter("(a.props->>'enabled')::boolean = {p}", "bool"),
        "template_id": Filter("a.template_id = {p}", "uuid"),
        "q": Filter("a.username ILIKE {p}", "search", "substring of the username"),
    },
    sorts={
        "username": "a.username",
        "extension": "length(e.number),e.number",
        "created_at": "a.created_at",
        "updated_at": "a.updated_at",
    },
    default_sort="username",
)

SELECT = (
    "SELECT a.*, e.number AS extension_number, t.data AS template_data FROM accounts a "
    "JOIN extensions e ON e.id = a.extension_id "
    "LEFT JOIN catalog t ON t.id = a.template_id WHERE a.tenant = $1"
)


def effective(row: Any) -> Effective:
    return merge(ACCOUNT_SETTINGS, row["template_data"], row["overrides"])


def view(
    row: Any, enabled_transports: list[str], warnings: list[str] | None = None
) -> dict[str, Any]:
    eff = effective(row)
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "tenant": row["tenant"],
        "username": row["username"],
        "enabled": row["props"].get("enabled", True),
        "extension": row["extension_number"],
        "extension_id": str(row["extension_id"]),
        "template_id": None if row["template_id"] is None else str(row["template_id"]),
        "settings": eff.nested(),
        "sources": eff.sources,
        # ACC-21: what the account can really use today, given the global SIP settings
        "effective_transports": [t for t in eff.values["transports"] if t in enabled_transports],
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
    if warnings is not None:
        out["warnings"] = warnings
    return out


class Accounts:
    def __init__(self, box: SecretBox) -> None:
        self.box = box

    async def _template(self, conn: Any, tenant: str, tid: uuid.UUID | None) -> Any:
        if tid is None:
            return None
        row = await conn.fetchrow(
            # FOR SHARE: a concurrent delete of the template waits for us, or we see it gone
            "SELECT data FROM catalog WHERE tenant = $1 AND kind = $2 AND id = $3 FOR SHARE",
            tenant,
            TEMPLATE_KIND,
            tid,
        )
        if row is None:
            raise ValidationFailed(
                "unknown template",
                [FieldProblem("template_id", "no account template with this id in this tenant")],
            )
        return row["data"]

    async def _extension_id(self, conn: Any, tenant: str, number: str) -> uuid.UUID:
        ext = await conn.fetchval(
            "SELECT id FROM extensions WHERE tenant = $1 AND number = $2", tenant, number
        )
        if ext is None:
            raise ValidationFailed(
                "unknown extension",
                [FieldProblem("extension", f"no extension {number} in tenant {tenant}")],
            )
        return ext  # type: ignore[no-any-return]

    async def row(self, conn: Any, tenant: str, key: str, *, lock: bool = False) -> Any:
        """By id (UUID) or by username."""
        uid = as_uuid(key)
        cond = "a.id = $2" if uid else "a.username = $2"
        row = await conn.fetchrow(
            f"{SELECT} AND {cond}{' FOR UPDATE OF a' if lock else ''}", tenant, uid or key
        )
        if row is None:
            raise not_found(KIND, key)
        return row

    async def transports(self, conn: Any) -> list[str]:
        sip, _ = await singletons.load(conn, singletons.SIP)
        return singletons.enabled_transports(sip)

    async def get(self, conn: Any, tenant: str, key: str) -> dict[str, Any]:
        return view(await self.row(conn, tenant, key), await self.transports(conn))

    async def list_page(self, conn: Any, page: Page) -> tuple[list[dict[str, Any]], int]:
        total = await conn.fetchval(
            "SELECT count(*) FROM accounts a JOIN extensions e ON e.id = a.extension_id "
            "WHERE a.tenant = $1" + "".join(" AND " + w for w in page.where),
            *page.args,
        )
        rows = await page.fetch(conn, SELECT)
        transports = await self.transports(conn)
        return [view(r, transports) for r in rows], total

    async def of_extension(self, conn: Any, tenant: str, ext_id: uuid.UUID) -> list[Any]:
        return await conn.fetch(  # type: ignore[no-any-return]
            f"{SELECT} AND a.extension_id = $2 ORDER BY a.username", tenant, ext_id
        )

    def _parse(
        self, body: Mapping[str, Any], *, create: bool
    ) -> tuple[dict[str, Any], list[FieldProblem]]:
        problems: list[FieldProblem] = []
        props: dict[str, Any] = {}
        for path, f in ACCOUNT_PROPS.fields.items():
            if path in body:
                try:
                    props[path] = f.check(body[path])
                except FieldInvalid as exc:
                    problems.append(FieldProblem(path, str(exc)))
            elif create:
                if f.default is None:
                    problems.append(FieldProblem(path, "is required"))
                else:
                    props[path] = f.default
        if "password" in body or create:
            try:
                props["password"] = SIP_PASSWORD.check(body.get("password"))
            except FieldInvalid as exc:
                problems.append(FieldProblem("password", str(exc)))
        if "template_id" in body:
            raw = body["template_id"]
            tid = as_uuid(raw) if isinstance(raw, str) else None
            if raw is not None and tid is None:
                problems.append(FieldProblem("template_id", "must be an id (UUID) or null"))
            props["template_id"] = tid
        return props, problems

    async def _validate(
        self, conn: Any, template: Any, overrides: Mapping[str, Any], transports: list[str] | None
    ) -> list[str]:
        eff = merge(ACCOUNT_SETTINGS, template, overrides)
        if transports is None:
            transports = await self.transports(conn)
        verdict = check_account(eff.values, transports)
        if verdict.problems:
            raise ValidationFailed("invalid SIP account", verdict.problems)
        return verdict.warnings

    async def create(
        self,
        conn: Any,
        tenant: str,
        body: Any,
        *,
        want_view: bool = True,
        transports: list[str] | None = None,
    ) -> dict[str, Any] | None:
        body = require_object(body)
        check_keys(body, WRITABLE, READ_ONLY)
        props, problems = self._parse(body, create=True)
        try:
            overrides = apply_changes(ACCOUNT_SETTINGS, {}, body.get("settings"), body.get("reset"))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            overrides = {}
        if problems:
            raise ValidationFailed("invalid SIP account", problems)
        tid = props.pop("template_id", None)
        template = await self._template(conn, tenant, tid)
        ext_id = await self._extension_id(conn, tenant, props.pop("extension"))
        username, password = props.pop("username"), props.pop("password")
        warnings = await self._validate(conn, template, overrides, transports)
        new_id = uuid.uuid4()
        try:
            await conn.execute(
                "INSERT INTO accounts (id, tenant, username, password_enc, extension_id, "
                "template_id, props, overrides) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                new_id,
                tenant,
                username,
                self.box.encrypt(password, username),
                ext_id,
                tid,
                props,
                overrides,
            )
        except asyncpg.UniqueViolationError:
            # ACC-03: unique in the whole PBX; do not reveal which tenant holds it
            raise Conflict(f"SIP username {username!r} is already in use") from None
        await record_change(conn, tenant, KIND, str(new_id), "created", 1, username)
        if not want_view:
            return None
        return view(
            await self.row(conn, tenant, str(new_id)), await self.transports(conn), warnings
        )

    async def update(
        self,
        conn: Any,
        tenant: str,
        key: str,
        body: Any,
        expected: int | None,
        *,
        want_view: bool = True,
        transports: list[str] | None = None,
    ) -> dict[str, Any] | None:
        body = require_object(body)
        check_keys(body, WRITABLE, READ_ONLY)
        changes, problems = self._parse(body, create=False)
        row = await self.row(conn, tenant, key, lock=True)
        check_revision(KIND, row["revision"], expected)
        try:
            overrides = apply_changes(
                ACCOUNT_SETTINGS, row["overrides"], body.get("settings"), body.get("reset")
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            overrides = {}
        if problems:
            raise ValidationFailed("invalid SIP account", problems)
        tid = changes.pop("template_id") if "template_id" in changes else row["template_id"]
        template = await self._template(conn, tenant, tid)
        ext_id = row["extension_id"]
        if "extension" in changes:
            ext_id = await self._extension_id(conn, tenant, changes.pop("extension"))
        username = changes.pop("username", row["username"])
        password = changes.pop("password", None)
        if password is None:
            # the ciphertext is bound to the username: re-encrypt on rename
            password = self.box.decrypt(row["password_enc"], row["username"])
        props = {**row["props"], **changes}
        warnings = await self._validate(conn, template, overrides, transports)
        try:
            await conn.execute(
                "UPDATE accounts SET username = $2, password_enc = $3, extension_id = $4, "
                "template_id = $5, props = $6, overrides = $7, revision = revision + 1, "
                "updated_at = now() WHERE id = $1",
                row["id"],
                username,
                self.box.encrypt(password, username),
                ext_id,
                tid,
                props,
                overrides,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"SIP username {username!r} is already in use") from None
        await record_change(
            conn, tenant, KIND, str(row["id"]), "updated", row["revision"] + 1, username
        )
        if username != row["username"]:
            # caches keyed by the old username must drop it
            await record_change(
                conn, tenant, KIND, str(row["id"]), "deleted", row["revision"] + 1, row["username"]
            )
        if not want_view:
            return None
        return view(
            await self.row(conn, tenant, str(row["id"])), await self.transports(conn), warnings
        )

    async def delete(self, conn: Any, tenant: str, key: str, expected: int | None) -> None:
        row = await self.row(conn, tenant, key, lock=True)
        check_revision(KIND, row["revision"], expected)
        await conn.execute("DELETE FROM accounts WHERE id = $1", row["id"])
        await record_change(
            conn, tenant, KIND, str(row["id"]), "deleted", row["revision"] + 1, row["username"]
        )

    def password(self, row: Any) -> str:
        return self.box.decrypt(row["password_enc"], row["username"])

    async def revalidate_template(
        self, conn: Any, tenant: str, template_id: uuid.UUID, template: Mapping[str, Any]
    ) -> list[FieldProblem]:
        transports = await self.transports(conn)
        problems: list[FieldProblem] = []
        for r in await conn.fetch(
            "SELECT username, overrides FROM accounts WHERE tenant = $1 AND template_id = $2 "
            "ORDER BY username",
            tenant,
            template_id,
        ):
            verdict = check_account(
                merge(ACCOUNT_SETTINGS, template, r["overrides"]).values, transports
            )
            problems.extend(
                FieldProblem(f"account {r['username']}: {p.field}", p.reason)
                for p in verdict.problems
            )
            if len(problems) >= 50:
                break
        return problems

    async def touch_template_users(self, conn: Any, tenant: str, template_id: uuid.UUID) -> None:
        rows = await conn.fetch(
            "UPDATE accounts SET revision = revision + 1, updated_at = now() "
            "WHERE tenant = $1 AND template_id = $2 RETURNING id, username, revision",
            tenant,
            template_id,
        )
        await record_changes(
            conn,
            [(tenant, KIND, str(r["id"]), "updated", r["revision"], r["username"]) for r in rows],
        )

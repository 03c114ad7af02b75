"""Extensions (EXT, VM, PB, COS, LIM, LOCK, PICK, OVF): storage, validation and views."""

from __future__ import annotations

import hmac
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import asyncpg

from centralino_config_api import local_user
from centralino_config_api.catalog import trunk_referrers
from centralino_config_api.common import (
    check_keys,
    check_revision,
    iso,
    not_found,
    require_object,
)
from centralino_config_api.crypto import SecretBox, SecretKeyError
from centralino_config_api.db import record_change, record_changes
from centralino_config_api.errors import Conflict, FieldProblem, ValidationFailed
from centralino_config_api.fields import FieldInvalid
from centralino_config_api.inheritance import Effective, apply_changes, merge
from centralino_config_api.listing import Collection, Filter, Page
from centralino_config_api.model import EXTENSION_PROPS, EXTENSION_SETTINGS, SERVICE_PIN
from centralino_config_api.rules import check_extension, visible

KIND = "extension"
TEMPLATE_KIND = "extension_template"
WRITABLE = {
    *EXTENSION_PROPS.fields,
    "service_pin",
    "template_id",
    "settings",
    "reset",
    "local_user",
}
READ_ONLY = {
    "id",
    "tenant",
    "revision",
    "sources",
    "display_name",
    "created_at",
    "updated_at",
    "service_pin_set",
    "warnings",
}

COLLECTION = Collection(
    filters={
        "number": Filter("e.number = {p}", doc="exact extension number"),
        "enabled": Filter("(e.props->>'enabled')::boolean = {p}", "bool"),
        "template_id": Filter("e.template_id = {p}", "uuid"),
        "q": Filter(
            "(e.number ILIKE {p} OR e.props->>'first_name' ILIKE {p} "
            "OR e.props->>'last_name' ILIKE {p})",
            "search",
            "substring of number, first or last name",
        ),
    },
    sorts={
        "number": "length(e.number),e.number",
        "first_name": "e.props->>'first_name'",
        "last_name": "e.props->>'last_name'",
        "created_at": "e.created_at",
        "updated_at": "e.updated_at",
    },
    default_sort="number",
)

SELECT = (
    "SELECT e.*, t.data AS template_data, t.revision AS template_revision, "
    "u.id AS user_id, u.username AS user_username, "
    "u.role AS user_role, u.gui_access AS user_gui, u.cti_access AS user_cti "
    "FROM extensions e LEFT JOIN catalog t ON t.id = e.template_id "
    "LEFT JOIN users u ON u.extension_id = e.id WHERE e.tenant = $1"
)


def display_name(number: str, props: Mapping[str, Any]) -> str:
    name = " ".join(p for p in (props.get("first_name"), props.get("last_name")) if p)
    return name or number


def effective(row: Any) -> Effective:
    return merge(EXTENSION_SETTINGS, row["template_data"], row["overrides"])


#: rendered extensions by everything a rendering depends on; list pages re-render the
#: same rows over and over, and merging ~100 settings per row dominated their cost
_VIEWS: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
VIEW_CACHE_SIZE = 20_000


def view(row: Any, warnings: list[str] | None = None) -> dict[str, Any]:
    """The API's extension document. Read-only for callers: it may be shared."""
    if warnings is not None:
        return {**_render(row), "warnings": warnings}
    key = (
        row["id"],
        row["revision"],
        row["template_id"],
        row.get("template_revision"),
        row["pin_enc"] is not None,
        row["user_id"],
        row["user_username"],
        row["user_role"],
        row["user_gui"],
        row["user_cti"],
    )
    cached = _VIEWS.get(key)
    if cached is not None:
        _VIEWS.move_to_end(key)
        return cached
    rendered = _render(row)
    _VIEWS[key] = rendered
    if len(_VIEWS) > VIEW_CACHE_SIZE:
        _VIEWS.popitem(last=False)
    return rendered


def _render(row: Any) -> dict[str, Any]:
    props = row["props"]
    eff = effective(row)
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "tenant": row["tenant"],
        "number": row["number"],
        **{
            p: props.get(p, EXTENSION_PROPS[p].default)
            for p in EXTENSION_PROPS.fields
            if p != "number"
        },
        "display_name": display_name(row["number"], props),
        "service_pin_set": row["pin_enc"] is not None,
        "local_user": local_user.view(row),
        "template_id": None if row["template_id"] is None else str(row["template_id"]),
        "settings": Effective(visible(eff.values), eff.sources).nested(),
        "sources": eff.sources,
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
    return out


def _parse_props(
    body: Mapping[str, Any], *, create: bool
) -> tuple[dict[str, Any], list[FieldProblem]]:
    problems: list[FieldProblem] = []
    props: dict[str, Any] = {}
    for path, f in EXTENSION_PROPS.fields.items():
        if path in body:
            try:
                props[path] = f.check(body[path])
            except FieldInvalid as exc:
                problems.append(FieldProblem(path, str(exc)))
        elif create:
            if path == "number":
                problems.append(FieldProblem("number", "is required"))
            else:
                props[path] = f.default
    if "service_pin" in body:
        try:
            SERVICE_PIN.check(body["service_pin"])
        except FieldInvalid as exc:
            problems.append(FieldProblem("service_pin", str(exc)))
    return props, problems


def _template_id(body: Mapping[str, Any], problems: list[FieldProblem]) -> uuid.UUID | None:
    raw = body.get("template_id")
    if raw is None:
        return None
    tid = _as_uuid(raw) if isinstance(raw, str) else None
    if tid is None:
        problems.append(FieldProblem("template_id", "must be an id (UUID) or null"))
    return tid


async def check_references(
    conn: Any, tenant: str, values: Mapping[str, Any], prefix: str = "settings."
) -> list[FieldProblem]:
    """Routing classes and pickup groups named in ``values`` must exist in this tenant."""
    wanted: dict[str, tuple[str, list[str]]] = {}
    for path in ("cos.standard_class", "cos.restricted_class"):
        if values.get(path):
            wanted[path] = ("routing_class", [values[path]])
    for path in ("pickup.member_of", "pickup.authorised"):
        if values.get(path):
            wanted[path] = ("pickup_group", list(values[path]))
    if not wanted:
        return []
    ids = sorted({i for _, lst in wanted.values() for i in lst})
    rows = await conn.fetch(
        "SELECT id, kind FROM catalog WHERE tenant = $1 AND id = ANY($2::uuid[]) FOR SHARE",
        tenant,
        ids,
    )
    have = {(str(r["id"]), r["kind"]) for r in rows}
    problems = []
    for path, (kind, lst) in wanted.items():
        missing = [i for i in lst if (i, kind) not in have]
        if missing:
            problems.append(
                FieldProblem(
                    prefix + path,
                    f"no {kind.replace('_', ' ')} {', '.join(missing)} in this tenant",
                )
            )
    return problems


class Extensions:
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
                [FieldProblem("template_id", "no extension template with this id in this tenant")],
            )
        return row["data"]

    async def row(self, conn: Any, tenant: str, key: str, *, lock: bool = False) -> Any:
        """By id (UUID) or by number."""
        uid = _as_uuid(key)
        cond = "e.id = $2" if uid else "e.number = $2"
        row = await conn.fetchrow(
            f"{SELECT} AND {cond}{' FOR UPDATE OF e' if lock else ''}", tenant, uid or key
        )
        if row is None:
            raise not_found(KIND, key)
        return row

    async def get(self, conn: Any, tenant: str, key: str) -> dict[str, Any]:
        return view(await self.row(conn, tenant, key))

    async def list_page(self, conn: Any, page: Page) -> tuple[list[dict[str, Any]], int]:
        # counted apart: a window count would merge every row of the tenant, not one page;
        # the tenant's existence comes in the same round trip (404 rather than an empty list)
        counted = await conn.fetchrow(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS known, "
            "(SELECT count(*) FROM extensions e WHERE e.tenant = $1"
            + "".join(" AND " + w for w in page.where)
            + ") AS total",
            *page.args,
        )
        if not counted["known"]:
            raise not_found("tenant", page.args[0])
        total = counted["total"]
        # the page's ids first (an index-only scan of migration 0003's index for the default
        # order), whole rows and joins after: skipped rows are never fetched from the heap
        ids = page.sql("SELECT e.id FROM extensions e WHERE e.tenant = $1")
        inner = f"SELECT e.* FROM extensions e WHERE e.id IN ({ids})"
        rows = await conn.fetch(
            SELECT.replace(" WHERE e.tenant = $1", "").replace(
                "FROM extensions e", f"FROM ({inner}) e"
            )
            + f" ORDER BY {page.order}",
            *page.args,
        )
        return [view(r) for r in rows], total

    async def _validate(
        self,
        conn: Any,
        tenant: str,
        props: Mapping[str, Any],
        template: Any,
        overrides: Mapping[str, Any],
        has_pin: bool,
        number: str,
    ) -> list[str]:
        eff = merge(EXTENSION_SETTINGS, template, overrides)
        verdict = check_extension(props, eff.values, has_pin=has_pin, number=number)
        problems = verdict.problems + await check_references(conn, tenant, eff.values)
        if problems:
            raise ValidationFailed("invalid extension", problems)
        return verdict.warnings

    async def create(
        self, conn: Any, tenant: str, body: Any, *, want_view: bool = True
    ) -> dict[str, Any] | None:
        body = require_object(body)
        check_keys(body, WRITABLE, READ_ONLY)
        props, problems = _parse_props(body, create=True)
        tid = _template_id(body, problems)
        try:
            overrides = apply_changes(
                EXTENSION_SETTINGS, {}, body.get("settings"), body.get("reset")
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            overrides = {}
        user_spec = None
        if "local_user" in body:
            try:
                user_spec = local_user.parse(body["local_user"])
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationFailed("invalid extension", problems)
        template = await self._template(conn, tenant, tid)
        number = props.pop("number")
        pin = body.get("service_pin") or None
        warnings = await self._validate(
            conn, tenant, props, template, overrides, pin is not None, number
        )
        new_id = uuid.uuid4()
        pin_enc = None if pin is None else self.box.encrypt(pin, str(new_id))
        try:
            await conn.execute(
                "INSERT INTO extensions "
                "(id, tenant, number, template_id, props, overrides, pin_enc)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                new_id,
                tenant,
                number,
                tid,
                props,
                overrides,
                pin_enc,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"extension {number} already exists in tenant {tenant} (EXT-02)"
            ) from None
        except asyncpg.ForeignKeyViolationError:
            raise not_found("tenant", tenant) from None
        await record_change(conn, tenant, KIND, str(new_id), "created", 1, number)
        if user_spec is not None:
            await local_user.sync(conn, tenant, new_id, user_spec)
        if not want_view:
            return None
        return view(await self.row(conn, tenant, str(new_id)), warnings)

    async def update(
        self,
        conn: Any,
        tenant: str,
        key: str,
        body: Any,
        expected: int | None,
        *,
        want_view: bool = True,
    ) -> dict[str, Any] | None:
        body = require_object(body)
        check_keys(body, WRITABLE, READ_ONLY)
        changes, problems = _parse_props(body, create=False)
        row = await self.row(conn, tenant, key, lock=True)
        check_revision(KIND, row["revision"], expected)
        tid = _template_id(body, problems) if "template_id" in body else row["template_id"]
        try:
            overrides = apply_changes(
                EXTENSION_SETTINGS, row["overrides"], body.get("settings"), body.get("reset")
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            overrides = {}
        user_spec = None
        if "local_user" in body:
            try:
                user_spec = local_user.parse(body["local_user"])
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationFailed("invalid extension", problems)
        template = await self._template(conn, tenant, tid)
        number = changes.pop("number", row["number"])
        if number != row["number"]:
            trunks = await trunk_referrers(conn, tenant, row["number"])
            if trunks:  # a trunk names it by number: renumbering would strand its calls
                raise Conflict(
                    f"extension {row['number']} receives a trunk's incoming calls; "
                    "change those first",
                    trunks,
                )
        props = {**row["props"], **changes}
        pin_enc = row["pin_enc"]
        if "service_pin" in body:
            pin = body["service_pin"] or None
            pin_enc = None if pin is None else self.box.encrypt(pin, str(row["id"]))
        warnings = await self._validate(
            conn, tenant, props, template, overrides, pin_enc is not None, number
        )
        try:
            await conn.execute(
                "UPDATE extensions SET number = $2, template_id = $3, props = $4, overrides = $5,"
                " pin_enc = $6, revision = revision + 1, updated_at = now() WHERE id = $1",
                row["id"],
                number,
                tid,
                props,
                overrides,
                pin_enc,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                f"extension {number} already exists in tenant {tenant} (EXT-02)"
            ) from None
        await record_change(
            conn, tenant, KIND, str(row["id"]), "updated", row["revision"] + 1, number
        )
        if number != row["number"]:
            await _touch_accounts(conn, tenant, "extension_id = $2", row["id"])
        if user_spec is not None:
            await local_user.sync(conn, tenant, row["id"], user_spec)
        if not want_view:
            return None
        return view(await self.row(conn, tenant, str(row["id"])), warnings)

    async def delete(self, conn: Any, tenant: str, key: str, expected: int | None) -> None:
        row = await self.row(conn, tenant, key, lock=True)
        check_revision(KIND, row["revision"], expected)
        accounts = await conn.fetch(
            "SELECT id, username FROM accounts WHERE extension_id = $1 ORDER BY username", row["id"]
        )
        forwards = await overflow_referrers(conn, tenant, row["number"], row["id"])
        if forwards:
            raise Conflict(
                f"extension {row['number']} is an overflow target; change those first", forwards
            )
        trunks = await trunk_referrers(conn, tenant, row["number"])
        if trunks:
            raise Conflict(
                f"extension {row['number']} receives a trunk's incoming calls; change those first",
                trunks,
            )
        if accounts:
            raise Conflict(
                f"extension {row['number']} still has SIP accounts; delete or move them first",
                [
                    {
                        "kind": "account",
                        "id": str(a["id"]),
                        "name": a["username"],
                        "attribute": "extension",
                    }
                    for a in accounts
                ],
            )
        if row["user_id"] is not None:  # the local user goes with its extension
            await record_change(
                conn, tenant, "user", str(row["user_id"]), "deleted", 0, row["user_username"]
            )
        await conn.execute("DELETE FROM extensions WHERE id = $1", row["id"])
        await record_change(
            conn, tenant, KIND, str(row["id"]), "deleted", row["revision"] + 1, row["number"]
        )

    async def verify_pin(self, conn: Any, tenant: str, number: str, pin: str) -> bool:
        row = await self.row(conn, tenant, number)
        if row["pin_enc"] is None:
            return False
        try:
            stored = self.box.decrypt(row["pin_enc"], str(row["id"]))
        except SecretKeyError:
            return False
        return hmac.compare_digest(stored.encode(), pin.encode())

    async def revalidate_template(
        self, conn: Any, tenant: str, template_id: uuid.UUID, template: Mapping[str, Any]
    ) -> list[FieldProblem]:
        """Problems the new template values would cause on the extensions that use it."""
        problems: list[FieldProblem] = []
        rows = await conn.fetch(
            "SELECT number, props, overrides, pin_enc IS NOT NULL AS has_pin FROM extensions "
            "WHERE tenant = $1 AND template_id = $2 ORDER BY number",
            tenant,
            template_id,
        )
        for r in rows:
            eff = merge(EXTENSION_SETTINGS, template, r["overrides"])
            verdict = check_extension(
                r["props"], eff.values, has_pin=r["has_pin"], number=r["number"]
            )
            problems.extend(
                FieldProblem(f"extension {r['number']}: {p.field}", p.reason)
                for p in verdict.problems
            )
            if len(problems) >= 50:
                break
        return problems

    async def touch_template_users(self, conn: Any, tenant: str, template_id: uuid.UUID) -> None:
        """A template edit changes the effective settings of its users: new revisions and
        events for each, so caches and If-Match both see the change."""
        rows = await conn.fetch(
            "UPDATE extensions SET revision = revision + 1, updated_at = now() "
            "WHERE tenant = $1 AND template_id = $2 RETURNING id, number, revision",
            tenant,
            template_id,
        )
        await record_changes(
            conn,
            [(tenant, KIND, str(r["id"]), "updated", r["revision"], r["number"]) for r in rows],
        )


_OVERFLOW_TO = (
    "EXISTS (SELECT 1 FROM jsonb_each({col}) kv WHERE kv.key LIKE 'overflow.%' "
    "AND jsonb_typeof(kv.value) = 'object' AND kv.value ->> 'target' = $2 "
    "AND kv.value ->> 'type' IN ('extension', 'voicemail'))"
)


async def overflow_referrers(
    conn: Any, tenant: str, number: str, ext_id: uuid.UUID
) -> list[dict[str, str]]:
    """Extensions and templates whose overflow sends calls to extension ``number``."""
    out = [
        {"kind": "extension", "id": str(r["id"]), "name": r["number"], "attribute": "overflow"}
        for r in await conn.fetch(
            "SELECT id, number FROM extensions WHERE tenant = $1 AND id <> $3 AND "
            + _OVERFLOW_TO.format(col="overrides"),
            tenant,
            number,
            ext_id,
        )
    ]
    out += [
        {"kind": TEMPLATE_KIND, "id": str(r["id"]), "name": r["name"], "attribute": "overflow"}
        for r in await conn.fetch(
            "SELECT id, name FROM catalog WHERE tenant = $1 AND kind = 'extension_template' AND "
            + _OVERFLOW_TO.format(col="data"),
            tenant,
            number,
        )
    ]
    return out


async def _touch_accounts(conn: Any, tenant: str, cond: str, arg: Any) -> None:
    rows = await conn.fetch(
        f"UPDATE accounts SET revision = revision + 1, updated_at = now() "
        f"WHERE tenant = $1 AND {cond} RETURNING id, username, revision",
        tenant,
        arg,
    )
    await record_changes(
        conn,
        [(tenant, "account", str(r["id"]), "updated", r["revision"], r["username"]) for r in rows],
    )


def _as_uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None

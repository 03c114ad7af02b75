"""Bulk import and export of extensions with their SIP accounts, as JSON or CSV.

An import is all or nothing: every row is tried inside one transaction (each in a
savepoint, so one bad row does not hide the next one's errors); if any row fails the whole
transaction is rolled back and the answer lists every failing row with its fields.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from centralino_config_api.api.http import CORE, body_json, reply
from centralino_config_api.api.registry import Registry
from centralino_config_api.core import Core
from centralino_config_api.crypto import random_sip_password
from centralino_config_api.errors import (
    BadRequest,
    ConfigError,
    FieldProblem,
    NotFound,
    ValidationFailed,
)
from centralino_config_api.fields import nest

MAX_ROWS = 50_000
CSV_COLUMNS = (
    "number",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "enabled",
    "template",
    "username",
    "password",
    "account_template",
    "audio_codecs",
)


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if not reader.fieldnames or "number" not in reader.fieldnames:
        raise BadRequest("the CSV needs a header line with at least a 'number' column")
    if unknown:
        raise BadRequest("unknown CSV columns: " + ", ".join(sorted(unknown)))
    rows = []
    for rec in reader:
        ext: dict[str, Any] = {
            k: rec[k]
            for k in ("number", "first_name", "last_name", "email", "mobile")
            if rec.get(k)
        }
        if rec.get("enabled"):
            ext["enabled"] = rec["enabled"].strip().lower() in ("1", "true", "yes")
        if rec.get("template"):
            ext["template"] = rec["template"]
        if rec.get("username"):
            acc: dict[str, Any] = {"username": rec["username"]}
            if rec.get("password"):
                acc["password"] = rec["password"]
            if rec.get("account_template"):
                acc["template"] = rec["account_template"]
            if rec.get("audio_codecs"):
                acc["settings"] = {"audio_codecs": rec["audio_codecs"].split(";")}
            ext["accounts"] = [acc]
        rows.append(ext)
    return rows


async def _template_ids(conn: Any, tenant: str) -> dict[tuple[str, str], str]:
    rows = await conn.fetch(
        "SELECT id, kind, name FROM catalog WHERE tenant = $1 AND kind LIKE '%_template'", tenant
    )
    return {(r["kind"], r["name"]): str(r["id"]) for r in rows}


def _resolve_template(obj: dict[str, Any], kind: str, names: dict[tuple[str, str], str]) -> None:
    if "template" in obj:
        name = obj.pop("template")
        if name in (None, ""):
            obj["template_id"] = None
        elif (kind, name) in names:
            obj["template_id"] = names[(kind, name)]
        else:
            raise ValidationFailed(
                "unknown template", [FieldProblem("template", f"no {kind} {name!r}")]
            )


async def import_rows(
    core: Core, conn: Any, tenant: str, rows: list[Any]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Returns (per-row errors, generated credentials). Caller owns the transaction."""
    names = await _template_ids(conn, tenant)
    errors: list[dict[str, Any]] = []
    generated: list[dict[str, str]] = []
    transports = await core.accounts.transports(conn)
    for i, raw in enumerate(rows):
        try:
            async with conn.transaction():  # a savepoint
                if not isinstance(raw, dict):
                    raise ValidationFailed("invalid row", [FieldProblem("$", "must be an object")])
                ext = dict(raw)
                accs = ext.pop("accounts", [])
                if not isinstance(accs, list):
                    raise ValidationFailed(
                        "invalid row", [FieldProblem("accounts", "must be a list")]
                    )
                _resolve_template(ext, "extension_template", names)
                number = ext.get("number")
                try:
                    await core.extensions.row(conn, tenant, str(number))
                    exists = isinstance(number, str)
                except NotFound:
                    exists = False
                if exists:
                    await core.extensions.update(
                        conn, tenant, str(number), ext, None, want_view=False
                    )
                else:
                    await core.extensions.create(conn, tenant, ext, want_view=False)
                for j, acc_raw in enumerate(accs):
                    try:
                        if not isinstance(acc_raw, dict):
                            raise ValidationFailed(
                                "invalid account", [FieldProblem("$", "must be an object")]
                            )
                        acc = {**acc_raw, "extension": number}
                        _resolve_template(acc, "account_template", names)
                        username = acc.get("username")
                        found = isinstance(username, str) and await conn.fetchval(
                            "SELECT 1 FROM accounts WHERE tenant = $1 AND username = $2",
                            tenant,
                            username,
                        )
                        if found:
                            await core.accounts.update(
                                conn,
                                tenant,
                                str(username),
                                acc,
                                None,
                                want_view=False,
                                transports=transports,
                            )
                        else:
                            if "password" not in acc:
                                acc["password"] = random_sip_password()
                                generated.append(
                                    {"username": str(username), "password": acc["password"]}
                                )
                            await core.accounts.create(
                                conn, tenant, acc, want_view=False, transports=transports
                            )
                    except ValidationFailed as exc:
                        raise ValidationFailed(
                            exc.message,
                            [
                                FieldProblem(f"accounts[{j}].{p.field}", p.reason)
                                for p in exc.problems
                            ],
                        ) from None
                    except ConfigError as exc:
                        raise type(exc)(f"accounts[{j}]: {exc.message}") from None
        except ValidationFailed as exc:
            errors.append(
                {"row": i, "key": _key(raw), "fields": [p.as_json() for p in exc.problems]}
            )
        except ConfigError as exc:
            errors.append({"row": i, "key": _key(raw), "error": exc.code, "message": exc.message})
    return errors, generated


def _key(raw: Any) -> str:
    return str(raw.get("number", "")) if isinstance(raw, dict) else ""


async def import_handler(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    if request.content_type == "text/csv":
        rows = _csv_rows((await request.read()).decode("utf-8", errors="replace"))
    else:
        body = await body_json(request)
        listed = body.get("extensions") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            raise ValidationFailed(
                "invalid import", [FieldProblem("extensions", "must be a list of extensions")]
            )
        rows = listed
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"at most {MAX_ROWS} rows per import")
    core = request.app[CORE]
    conn_cm = core.pool.acquire()
    async with conn_cm as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SELECT 1 FROM tenants WHERE id = $1 FOR SHARE", tenant)
            errors, generated = await import_rows(core, conn, tenant, rows)
        except BaseException:
            await tx.rollback()
            raise
        if errors:
            await tx.rollback()
            return reply(
                {
                    "error": "import_failed",
                    "applied": False,
                    "message": f"{len(errors)} of {len(rows)} rows are invalid; "
                    "nothing was imported",
                    "rows": errors,
                },
                status=422,
            )
        await tx.commit()
    return reply({"applied": True, "rows": len(rows), "generated_passwords": generated})


async def export_handler(request: web.Request) -> web.Response:
    tenant = request.match_info["tenant"]
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationFailed("invalid query", [FieldProblem("format", "must be json or csv")])
    core = request.app[CORE]
    async with core.read() as conn:
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE id = $1", tenant):
            raise NotFound(f"no tenant {tenant!r}")
        names = {v: k[1] for k, v in (await _template_ids(conn, tenant)).items()}
        exts = await conn.fetch(
            "SELECT * FROM extensions WHERE tenant = $1 ORDER BY length(number), number", tenant
        )
        accs = await conn.fetch(
            "SELECT a.*, e.number FROM accounts a JOIN extensions e ON e.id = a.extension_id "
            "WHERE a.tenant = $1 ORDER BY a.username",
            tenant,
        )
    by_ext: dict[str, list[dict[str, Any]]] = {}
    for a in accs:
        item: dict[str, Any] = {
            "username": a["username"],
            "enabled": a["props"].get("enabled", True),
        }
        if a["template_id"]:
            item["template"] = names.get(str(a["template_id"]))
        if a["overrides"]:
            item["settings"] = nest(a["overrides"])
        by_ext.setdefault(a["number"], []).append(item)
    out = []
    for e in exts:
        item = {"number": e["number"], **e["props"]}
        if e["template_id"]:
            item["template"] = names.get(str(e["template_id"]))
        if e["overrides"]:
            item["settings"] = nest(e["overrides"])
        item["accounts"] = by_ext.get(e["number"], [])
        out.append(item)
    if fmt == "json":
        return reply({"tenant": tenant, "extensions": out})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for item in out:
        base = {
            k: item.get(k) or ""
            for k in ("number", "first_name", "last_name", "email", "mobile", "template")
        }
        base["enabled"] = "true" if item.get("enabled", True) else "false"
        for acc in item["accounts"] or [{}]:
            row = dict(base)
            if acc:
                row.update(
                    username=acc["username"],
                    account_template=acc.get("template") or "",
                    audio_codecs=";".join(acc.get("settings", {}).get("audio_codecs", [])),
                )
            writer.writerow(row)
    return web.Response(text=buf.getvalue(), content_type="text/csv")


IMPORT_SCHEMA = {
    "type": "object",
    "required": ["extensions"],
    "properties": {
        "extensions": {"type": "array", "items": {"$ref": "#/components/schemas/ImportExtension"}}
    },
}


def add_routes(reg: Registry) -> None:
    base = "/api/v1/tenants/{tenant}"
    reg.add(
        "POST",
        base + "/import",
        import_handler,
        "Import extensions with accounts (JSON or CSV); all rows or none",
        access="tenant_write",
        tag="bulk",
        request=IMPORT_SCHEMA,
        response={"type": "object"},
        extra_responses=(400, 422),
        request_types=("application/json", "text/csv"),
    )
    reg.add(
        "GET",
        base + "/export",
        export_handler,
        "Export extensions with accounts (no secrets) as JSON or CSV",
        access="tenant_read",
        tag="bulk",
        response={"type": "object"},
        query=(("format", "string", "json (default) or csv"),),
    )

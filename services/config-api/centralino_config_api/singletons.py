"""Singleton documents: the PBX-wide SIP settings, each tenant's service codes and numbering
plan."""

from __future__ import annotations

from typing import Any

from centralino.bus.subjects import SYSTEM_TENANT
from centralino_config_api.common import check_revision, require_object
from centralino_config_api.db import record_change
from centralino_config_api.errors import ValidationFailed
from centralino_config_api.fields import FieldSet, nest
from centralino_config_api.model import NUMBERING_PLAN, SERVICE_CODES, SIP_SETTINGS, TRANSPORTS
from centralino_config_api.rules import (
    Verdict,
    check_numbering_plan,
    check_service_codes,
    check_sip_settings,
)

SIP = "sip_settings"
CODES = "service_codes"
PLAN = "numbering_plan"
_SPECS: dict[str, tuple[FieldSet, Any]] = {
    SIP: (SIP_SETTINGS, check_sip_settings),
    CODES: (SERVICE_CODES, check_service_codes),
    PLAN: (NUMBERING_PLAN, check_numbering_plan),
}


async def load(conn: Any, kind: str, tenant: str = SYSTEM_TENANT) -> tuple[dict[str, Any], int]:
    """Effective flat document (defaults + stored) and its revision (0 = never written)."""
    fields, _ = _SPECS[kind]
    row = await conn.fetchrow(
        "SELECT data, revision FROM settings WHERE tenant = $1 AND kind = $2", tenant, kind
    )
    doc = fields.defaults()
    if row is None:
        return doc, 0
    doc.update({k: v for k, v in row["data"].items() if k in fields})
    return doc, row["revision"]


def enabled_transports(sip: dict[str, Any]) -> list[str]:
    return [t for t in TRANSPORTS if sip[f"transports.{t}.enabled"]]


async def update(
    conn: Any, kind: str, body: Any, expected: int | None, tenant: str = SYSTEM_TENANT
) -> tuple[dict[str, Any], int]:
    fields, rule = _SPECS[kind]
    changes = fields.flatten(require_object(body), "", only_shareable=False)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))", tenant, kind)
    doc, revision = await load(conn, kind, tenant)
    check_revision(kind, revision, expected)
    doc.update(changes)
    verdict: Verdict = rule(doc)
    if verdict.problems:
        raise ValidationFailed("invalid settings", verdict.problems)
    revision += 1
    await conn.execute(
        "INSERT INTO settings (tenant, kind, data, revision) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant, kind) DO UPDATE SET data = $3, revision = $4, updated_at = now()",
        tenant,
        kind,
        doc,
        revision,
    )
    await record_change(conn, tenant, kind, kind, "updated", revision)
    return doc, revision


def view(doc: dict[str, Any], revision: int) -> dict[str, Any]:
    return {**nest(doc), "revision": revision}

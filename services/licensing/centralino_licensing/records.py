"""Rows of the licensing tables as typed records, and the time conversions they need."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from centralino_licensing.keys import LicenceClaims
from centralino_licensing.products import PRODUCTS, Kind


def to_dt(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def to_unix(dt: datetime) -> float:
    return dt.timestamp()


def unix_ms(unix: float | None) -> int:
    """Milliseconds for protobuf fields where 0 means never."""
    return 0 if unix is None else int(unix * 1000)


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    id: str
    kind: Kind
    product: str
    key: str
    channels: int
    serial: str
    issued_at: float
    valid_from: float
    expires_at: float | None
    activated_at: float
    licensee: dict[str, Any] | None
    terms_version: str | None

    @property
    def product_name(self) -> str:
        return PRODUCTS[self.product].name

    def valid(self, now: float) -> bool:
        return self.valid_from <= now and (self.expires_at is None or now < self.expires_at)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> LicenceRecord:
        expires = row["expires_at"]
        licensee = row["licensee"]
        return cls(
            id=row["id"],
            kind=Kind(row["kind"]),
            product=row["product"],
            key=row["activation_key"],
            channels=row["channels"],
            serial=row["serial"],
            issued_at=to_unix(row["issued_at"]),
            valid_from=to_unix(row["valid_from"]),
            expires_at=None if expires is None else to_unix(expires),
            activated_at=to_unix(row["activated_at"]),
            licensee=None if licensee is None else json.loads(licensee),
            terms_version=row["terms_version"],
        )


async def insert_licence(
    conn: asyncpg.Connection,
    claims: LicenceClaims,
    key: str,
    now: float,
    *,
    licensee: dict[str, str] | None = None,
    terms_version: str | None = None,
) -> LicenceRecord:
    """Insert, or replace an older issue of the same licence id (a renewal)."""
    row = await conn.fetchrow(
        """INSERT INTO licensing.licences (id, kind, product, activation_key, channels, serial,
               issued_at, valid_from, expires_at, activated_at, licensee, terms_version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET activation_key = EXCLUDED.activation_key,
               channels = EXCLUDED.channels, issued_at = EXCLUDED.issued_at,
               valid_from = EXCLUDED.valid_from, expires_at = EXCLUDED.expires_at,
               activated_at = EXCLUDED.activated_at, expiry_notified = false,
               licensee = COALESCE(EXCLUDED.licensee, licensing.licences.licensee),
               terms_version = COALESCE(EXCLUDED.terms_version, licensing.licences.terms_version)
           RETURNING *""",
        claims.id,
        claims.product_info.kind.value,
        claims.product,
        key,
        claims.channels,
        claims.serial,
        to_dt(claims.issued_at),
        to_dt(claims.valid_from),
        None if claims.expires_at is None else to_dt(claims.expires_at),
        to_dt(now),
        None if licensee is None else json.dumps(licensee),
        terms_version,
    )
    return LicenceRecord.from_row(row)


async def find_licence(conn: asyncpg.Connection, licence_id: str) -> LicenceRecord | None:
    row = await conn.fetchrow("SELECT * FROM licensing.licences WHERE id = $1", licence_id)
    return None if row is None else LicenceRecord.from_row(row)


async def list_licences(conn: asyncpg.Connection, kind: Kind) -> list[LicenceRecord]:
    rows = await conn.fetch(
        "SELECT * FROM licensing.licences WHERE kind = $1 ORDER BY activated_at, id", kind.value
    )
    return [LicenceRecord.from_row(r) for r in rows]

"""Product licences: activation (LIC-03), the list (LIC-02), feature checks and user seats.

Enforcement is answered here and applied by the callers: config-api asks for
``multi-tenant`` before creating a second tenant, and for ``cti-pro``/``cti-phone`` with a
user before enabling those CTI modes (USR-06, LIC-07). A licence stops granting at its expiry
because every check compares against ``now``; the expiry event is only the notification.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from centralino_licensing.errors import (
    DuplicateLicence,
    Exhausted,
    LicenceKeyError,
    LicensingError,
    NotFound,
)
from centralino_licensing.keys import LicenceClaims, check_activation, verify_key
from centralino_licensing.products import PRODUCTS, Kind, Product
from centralino_licensing.records import (
    LicenceRecord,
    find_licence,
    insert_licence,
    list_licences,
    to_dt,
)

MAX_NAME = 128


@dataclass(frozen=True, slots=True)
class FeatureCheck:
    granted: bool
    reason: str
    channels: int


@dataclass(frozen=True, slots=True)
class Seat:
    product: str
    tenant: str
    user: str


def product(slug: str) -> Product:
    try:
        return PRODUCTS[slug]
    except KeyError:
        known = ", ".join(PRODUCTS)
        raise LicensingError(
            "unknown_product", f"unknown product {slug!r}; one of: {known}"
        ) from None


class LicenceBook:
    """Rules over the licences table; every method takes the time it should judge at."""

    def __init__(self, db: asyncpg.Pool, public_key: Ed25519PublicKey, serial: str) -> None:
        self.db = db
        self.public_key = public_key
        self.serial = serial

    def verify(self, key: str, kind: Kind, now: float) -> LicenceClaims:
        """Signature, product kind, serial and dates: every check that needs no database."""
        claims = verify_key(key, self.public_key)
        if claims.product_info.kind is not kind:
            where = "the G.729 licence list" if kind is Kind.PRODUCT else "the licence list"
            raise LicenceKeyError(
                "wrong_kind",
                f"{claims.id} is a {claims.product_info.name} licence: activate it from {where}",
            )
        check_activation(claims, self.serial, now)
        return claims

    async def refuse_duplicate(self, conn: asyncpg.Connection, claims: LicenceClaims) -> None:
        """Refuse a licence already active unless this key is a later issue (a renewal).

        Callers hold the per-id advisory lock so two concurrent activations of one key cannot
        both pass this check.
        """
        existing = await find_licence(conn, claims.id)
        if existing is not None and existing.issued_at >= claims.issued_at:
            raise DuplicateLicence(
                f"licence {claims.id} is already active (activated on "
                f"{to_dt(existing.activated_at):%Y-%m-%d})"
            )

    async def activate(self, key: str, now: float, *, kind: Kind = Kind.PRODUCT) -> LicenceRecord:
        claims = self.verify(key, kind, now)
        async with self.db.acquire() as conn, conn.transaction():
            await lock_licence_id(conn, claims.id)
            await self.refuse_duplicate(conn, claims)
            return await insert_licence(conn, claims, key.strip(), now)

    async def licences(self, kind: Kind) -> list[LicenceRecord]:
        async with self.db.acquire() as conn:
            return await list_licences(conn, kind)

    async def remove(self, licence_id: str) -> LicenceRecord:
        async with self.db.acquire() as conn:
            row = await conn.fetchrow(
                "DELETE FROM licensing.licences WHERE id = $1 RETURNING *", licence_id
            )
        if row is None:
            raise NotFound("unknown_licence", f"no licence with id {licence_id!r}")
        return LicenceRecord.from_row(row)

    async def channels(self, conn: asyncpg.Connection, slug: str, now: float) -> int:
        value = await conn.fetchval(
            """SELECT COALESCE(SUM(channels), 0) FROM licensing.licences
               WHERE product = $1 AND valid_from <= $2
                 AND (expires_at IS NULL OR expires_at > $2)""",
            slug,
            to_dt(now),
        )
        return int(value)

    async def check_feature(self, slug: str, tenant: str, user: str, now: float) -> FeatureCheck:
        info = product(slug)
        async with self.db.acquire() as conn:
            channels = await self.channels(conn, slug, now)
            if channels == 0:
                return FeatureCheck(False, f"no valid {info.name} licence", 0)
            if not (info.per_user and user):
                return FeatureCheck(True, "", channels)
            # Seats go to the earliest assignments, so if a licence expires and the channels
            # shrink, the users who lose the mode are the most recently assigned ones.
            rank = await conn.fetchval(
                """SELECT rank FROM (
                       SELECT tenant, username,
                              row_number() OVER (ORDER BY assigned_at, tenant, username) AS rank
                       FROM licensing.assignments WHERE product = $1) seats
                   WHERE tenant = $2 AND username = $3""",
                slug,
                tenant,
                user,
            )
        if rank is None:
            return FeatureCheck(
                False,
                f"{info.name} is not assigned to user {user!r} of tenant {tenant!r}",
                channels,
            )
        if rank > channels:
            return FeatureCheck(
                False,
                f"user {user!r} holds seat {rank} but only {channels} {info.name} "
                "channels are valid",
                channels,
            )
        return FeatureCheck(True, "", channels)

    async def assign(self, seat: Seat, now: float) -> Seat:
        info = product(seat.product)
        if not info.per_user:
            raise LicensingError("not_assignable", f"{info.name} is not assigned to users")
        for name, value in (("tenant", seat.tenant), ("user", seat.user)):
            if not value or len(value) > MAX_NAME:
                raise LicensingError("bad_seat", f"{name} must be 1..{MAX_NAME} characters")
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "seat:" + info.slug)
            exists = await conn.fetchval(
                """SELECT 1 FROM licensing.assignments
                   WHERE product = $1 AND tenant = $2 AND username = $3""",
                seat.product,
                seat.tenant,
                seat.user,
            )
            if exists:
                return seat
            channels = await self.channels(conn, info.slug, now)
            used = await conn.fetchval(
                "SELECT count(*) FROM licensing.assignments WHERE product = $1", info.slug
            )
            if used >= channels:
                raise Exhausted(
                    "seats_exhausted",
                    f"all {channels} {info.name} channels are assigned"
                    if channels
                    else f"no valid {info.name} licence to assign",
                )
            await conn.execute(
                """INSERT INTO licensing.assignments (product, tenant, username, assigned_at)
                   VALUES ($1, $2, $3, $4)""",
                seat.product,
                seat.tenant,
                seat.user,
                to_dt(now),
            )
        return seat

    async def unassign(self, seat: Seat) -> bool:
        async with self.db.acquire() as conn:
            result = await conn.execute(
                """DELETE FROM licensing.assignments
                   WHERE product = $1 AND tenant = $2 AND username = $3""",
                seat.product,
                seat.tenant,
                seat.user,
            )
        return bool(result != "DELETE 0")

    async def seats(self, slug: str) -> list[Seat]:
        if slug:
            product(slug)
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT product, tenant, username FROM licensing.assignments
                   WHERE $1 = '' OR product = $1 ORDER BY product, assigned_at, tenant, username""",
                slug,
            )
        return [Seat(r["product"], r["tenant"], r["username"]) for r in rows]

    async def claim_expired(self, now: float) -> list[LicenceRecord]:
        """Licences that expired by ``now`` and were not announced yet, claimed once even
        with several replicas watching."""
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE licensing.licences SET expiry_notified = true
                   WHERE expires_at <= $1 AND NOT expiry_notified RETURNING *""",
                to_dt(now),
            )
        return [LicenceRecord.from_row(r) for r in rows]

    async def next_expiry(self) -> float | None:
        async with self.db.acquire() as conn:
            value = await conn.fetchval(
                "SELECT min(expires_at) FROM licensing.licences WHERE NOT expiry_notified"
            )
        return None if value is None else float(value.timestamp())


async def lock_licence_id(conn: asyncpg.Connection, licence_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "licence:" + licence_id)

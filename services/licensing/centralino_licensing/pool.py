"""The G.729 channel pool: leases on the sum of the valid G.729 licence channels.

The media service holds one lease per G.729 transcoding leg, renews it while the leg lives
and releases it at call end. A lease that is not renewed expires, so channels held by a media
replica that died come back on their own.

Allocation never over-allocates across clients or replicas: acquiring locks the pool's row
(``SELECT ... FOR UPDATE``), so the count of live leases and the insert happen as one
serialised step in PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from centralino_licensing.errors import Exhausted, LicensingError, NotFound
from centralino_licensing.records import to_dt, to_unix

POOLS = ("g729",)
MAX_OWNER = 200


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    pool: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class PoolStatus:
    total: int
    in_use: int


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise LicensingError("unknown_pool", f"unknown channel pool {pool!r}; one of: {POOLS}")


def _lease_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise LicensingError("bad_lease_id", f"lease id {text!r} is not a UUID") from None


_TOTAL = """SELECT COALESCE(SUM(channels), 0) FROM licensing.licences
            WHERE kind = 'g729' AND valid_from <= $1 AND (expires_at IS NULL OR expires_at > $1)"""


class ChannelPool:
    def __init__(self, db: asyncpg.Pool, default_ttl: float, max_ttl: float) -> None:
        self.db = db
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl

    def ttl(self, requested: float) -> float:
        if requested < 0:
            raise LicensingError("bad_ttl", f"ttl_seconds must be >= 0, got {requested}")
        return min(requested or self.default_ttl, self.max_ttl)

    async def acquire(
        self, pool: str, owner: str, session_id: str, ttl: float, now: float
    ) -> Lease:
        _check_pool(pool)
        if not owner or len(owner) > MAX_OWNER or len(session_id) > MAX_OWNER:
            raise LicensingError(
                "bad_owner", f"owner (and session_id) must be 1..{MAX_OWNER} chars"
            )
        expires = now + self.ttl(ttl)
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM licensing.pools WHERE pool = $1 FOR UPDATE", pool)
            await conn.execute(
                "DELETE FROM licensing.leases WHERE pool = $1 AND expires_at <= $2",
                pool,
                to_dt(now),
            )
            total = int(await conn.fetchval(_TOTAL, to_dt(now)))
            in_use = int(
                await conn.fetchval("SELECT count(*) FROM licensing.leases WHERE pool = $1", pool)
            )
            if in_use >= total:
                raise Exhausted(
                    "pool_exhausted",
                    f"G.729 pool exhausted: {in_use} of {total} channels in use"
                    if total
                    else "no valid G.729 licence: the G.729 pool has no channels",
                )
            lease_id = uuid.uuid4()
            await conn.execute(
                """INSERT INTO licensing.leases
                       (id, pool, owner, session_id, acquired_at, expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                lease_id,
                pool,
                owner,
                session_id,
                to_dt(now),
                to_dt(expires),
            )
        return Lease(str(lease_id), pool, expires)

    async def renew(self, lease_id: str, ttl: float, now: float) -> Lease:
        key = _lease_id(lease_id)
        async with self.db.acquire() as conn:
            row = await conn.fetchrow(
                """UPDATE licensing.leases SET expires_at = $2
                   WHERE id = $1 AND expires_at > $3 RETURNING pool, expires_at""",
                key,
                to_dt(now + self.ttl(ttl)),
                to_dt(now),
            )
        if row is None:
            raise NotFound("lease_expired", f"lease {lease_id} is unknown or already expired")
        return Lease(lease_id, row["pool"], to_unix(row["expires_at"]))

    async def release(self, lease_id: str) -> bool:
        key = _lease_id(lease_id)
        async with self.db.acquire() as conn:
            result = await conn.execute("DELETE FROM licensing.leases WHERE id = $1", key)
        return bool(result != "DELETE 0")

    async def status(self, pool: str, now: float) -> PoolStatus:
        _check_pool(pool)
        async with self.db.acquire() as conn:
            total = int(await conn.fetchval(_TOTAL, to_dt(now)))
            in_use = int(
                await conn.fetchval(
                    "SELECT count(*) FROM licensing.leases WHERE pool = $1 AND expires_at > $2",
                    pool,
                    to_dt(now),
                )
            )
        return PoolStatus(total, in_use)

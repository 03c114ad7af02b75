"""PostgreSQL access: the pool, JSON codecs, and recording changes in the outbox."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

OUTBOX_CHANNEL = "config_outbox"

Conn = asyncpg.Connection
Pool = asyncpg.Pool


async def _init(conn: asyncpg.Connection) -> None:
    for typ in ("jsonb", "json"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _reset(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's full reset (RESET ALL, UNLISTEN *, unlock all...): this
    service sets no session state, and that round trip per request halved throughput.
    A transaction left open by a cancelled request is still rolled back."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init, reset=_reset
    )
    assert pool is not None  # create_pool returns None only when not awaited
    return pool


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init(conn)
    return conn


async def record_change(
    conn: Any,
    tenant: str,
    kind: str,
    entity_id: str,
    op: str,
    revision: int,
    key: str = "",
) -> None:
    """Write the event for a change in the caller's transaction; NOTIFY is delivered only
    on commit, so a rolled-back change neither wakes the publisher nor leaves a row."""
    await conn.execute(
        "INSERT INTO outbox (tenant, kind, entity_id, op, revision, key) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        tenant,
        kind,
        entity_id,
        op,
        revision,
        key,
    )
    await conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")


async def record_changes(conn: Any, rows: list[tuple[str, str, str, str, int, str]]) -> None:
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO outbox (tenant, kind, entity_id, op, revision, key) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        rows,
    )
    await conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")

"""Versioned SQL migrations.

Each owner (``config``, ``licensing``...) keeps numbered files ``NNNN_name.sql`` in a
package directory. They are applied in order, each in its own transaction, under a
PostgreSQL advisory lock so several replicas starting at once apply them exactly once.
"""

from __future__ import annotations

import logging
import re
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x43454E54  # "CENT": one advisory lock for every owner's migrations


class MigrationError(RuntimeError):
    """A migration file is misnamed or failed to apply."""


def _files(directory: Traversable) -> list[tuple[int, str, str]]:
    found = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _NAME.match(entry.name)
        if not m:
            raise MigrationError(f"migration {entry.name!r} must be named NNNN_lower_snake.sql")
        found.append((int(m.group(1)), entry.name, entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return found


async def apply_migrations(
    conn: asyncpg.Connection, owner: str, directory: Traversable
) -> list[str]:
    """Apply ``owner``'s pending migrations; returns the names applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   owner text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (owner, version))"""
        )
        done = {
            r["version"]
            for r in await conn.fetch(
                "SELECT version FROM schema_migrations WHERE owner = $1", owner
            )
        }
        for version, name, sql in _files(directory):
            if version in done:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (owner, version, name) VALUES ($1, $2, $3)",
                        owner,
                        version,
                        name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{owner} migration {name} failed: {exc}") from exc
            log.info("applied migration", extra={"owner": owner, "migration": name})
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied

"""The config-api's domain objects wired to one pool: what REST, gRPC and the CLI share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Any

import asyncpg

from centralino.db.migrations import apply_migrations
from centralino_config_api.accounts import Accounts
from centralino_config_api.catalog import Catalog
from centralino_config_api.crypto import SecretBox
from centralino_config_api.db import connect, create_pool
from centralino_config_api.extensions import Extensions
from centralino_config_api.licence_gate import LicenceGate
from centralino_config_api.templates import Templates


async def migrate(url: str) -> list[str]:
    conn = await connect(url)
    try:
        return await apply_migrations(conn, "config", files("centralino_config_api") / "migrations")
    finally:
        await conn.close()


class Core:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box
        self.extensions = Extensions(box)
        self.accounts = Accounts(box)
        self.catalog = Catalog(box)
        self.templates = Templates(self.extensions, self.accounts)
        #: set by the service when licences are enforced (CENTRALINO_ENFORCE_LICENCES)
        self.licences: LicenceGate | None = None

    @classmethod
    async def open(cls, url: str, secret_key: str, *, max_size: int = 10) -> Core:
        box = SecretBox(secret_key)
        await migrate(url)
        return cls(await create_pool(url, max_size=max_size), box)

    async def close(self) -> None:
        if self.licences is not None:
            await self.licences.close()
        await self.pool.close()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Any]:
        """One transaction per request: nothing half-written, ever."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Any]:
        async with self.pool.acquire() as conn:
            yield conn

"""Session-wide real infrastructure: a JetStream nats-server and a PostgreSQL cluster.

Both are real servers started once per test session on free loopback ports (no mocks).
Tests that need isolation ask for ``database_url`` (a fresh database per test) or use
unique tenant names / KV bucket names on the shared NATS.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from centralino.runner.embedded import EmbeddedNats, EmbeddedPostgres, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: PostgreSQL runs unprivileged when we are root and must be
    # able to reach its folder.
    with tempfile.TemporaryDirectory(prefix="centralino-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def nats_server(infra_dir: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(infra_dir / "nats", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


@pytest.fixture(scope="session")
def postgres_server(infra_dir: Path) -> Iterator[EmbeddedPostgres]:
    external = os.environ.get("CENTRALINO_TEST_DATABASE_URL")
    if external:
        pytest.skip("external database configured; use database_url")
    server = EmbeddedPostgres(infra_dir / "pg", free_port(), durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: EmbeddedPostgres) -> str:
    """URL of the session's (shared) ``centralino`` database."""
    return postgres_server.url


@pytest.fixture
async def database_url(postgres_server: EmbeddedPostgres) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.url.rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()

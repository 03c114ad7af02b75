"""Fixtures of the registrar tests; the harness itself is in registrar_harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from registrar_harness import Pbx, pbx_edge


@pytest.fixture
async def pbx(nats_url: str, database_url: str) -> AsyncIterator[Pbx]:
    async with pbx_edge(nats_url, database_url) as edge:
        yield edge

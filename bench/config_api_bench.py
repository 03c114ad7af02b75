"""config-api load figures: GET-by-id and list throughput (p50/p99) under concurrency, and
a 10,000-extension import (one account each).

Run: ``uv run --frozen python bench/config_api_bench.py [--requests 6000] [--concurrency 32]``.
Starts an embedded PostgreSQL and NATS and the service as a subprocess, then prints the
figures.
Targets: >= 1,500 req/s with p99 < 25 ms; the import under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from centralino.runner.embedded import EmbeddedNats, EmbeddedPostgres, free_port


async def _load(
    http: aiohttp.ClientSession, urls: list[str], headers: dict[str, str], concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(urls))

    async def worker() -> None:
        while queue:
            url = queue.pop()
            t0 = time.perf_counter()
            async with http.get(url, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def _report(name: str, elapsed: float, lat: list[float]) -> None:
    lat.sort()
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    print(f"{name:<14} {len(lat) / elapsed:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


async def main(requests: int, concurrency: int, imports: int) -> None:
    with tempfile.TemporaryDirectory(prefix="centralino-bench-") as d:
        pg = EmbeddedPostgres(Path(d) / "pg", free_port(), durable=False)
        nats = EmbeddedNats(Path(d) / "nats", free_port())
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(nats.start)
        try:
            env = {
                "DATABASE_URL": pg.url,
                "NATS_URL": nats.url,
                "CENTRALINO_GRPC_LISTEN": "127.0.0.1:0",
                "CENTRALINO_API_LISTEN": f"127.0.0.1:{free_port()}",
                "CENTRALINO_SECRET_KEY": "bench-secret-key-0123456789",
                "CENTRALINO_ADMIN_PASSWORD": "bench-admin-pw",
                "CENTRALINO_LOG_LEVEL": "WARNING",
            }
            # the service in its own process, as deployed; this one only generates load
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "centralino_config_api",
                env={**os.environ, **env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            base = f"http://{env['CENTRALINO_API_LISTEN']}"
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency)
            ) as http:
                for _ in range(600):  # up to 30 s for the service to start
                    try:
                        async with http.post(
                            base + "/api/v1/auth/login",
                            json={"username": "admin", "password": "bench-admin-pw"},
                        ) as r:
                            token = (await r.json())["token"]
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                h = {"Authorization": f"Bearer {token}"}
                async with http.post(
                    base + "/api/v1/tenants", headers=h, json={"id": "bench", "name": "Bench"}
                ) as r:
                    assert r.status == 201
                rows = [
                    {
                        "number": str(10000 + i),
                        "first_name": "User",
                        "last_name": str(i),
                        "accounts": [{"username": f"b{10000 + i}", "password": "Password1"}],
                    }
                    for i in range(imports)
                ]
                t0 = time.perf_counter()
                async with http.post(
                    base + "/api/v1/tenants/bench/import", headers=h, json={"extensions": rows}
                ) as r:
                    out = await r.json()
                    assert r.status == 200, out
                print(f"import {imports} extensions + accounts: {time.perf_counter() - t0:.1f} s")
                ids = [
                    f"{base}/api/v1/tenants/bench/extensions/{10000 + i % imports}"
                    for i in range(requests)
                ]
                await _load(http, ids[:200], h, concurrency)  # warm-up
                _report("GET by id", *await _load(http, ids, h, concurrency))
                for label, pages in (("list p1-10", 10), ("list any page", imports // 20)):
                    urls = [
                        f"{base}/api/v1/tenants/bench/extensions?limit=20&offset={i % pages * 20}"
                        for i in range(requests // 2)
                    ]
                    _report(label, *await _load(http, urls, h, concurrency))
            proc.terminate()
            await proc.wait()
        finally:
            await asyncio.to_thread(nats.stop)
            await asyncio.to_thread(pg.stop)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--imports", type=int, default=10_000)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.concurrency, a.imports))

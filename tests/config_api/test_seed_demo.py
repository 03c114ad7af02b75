"""`seed-demo`: the runner's demo tenant, idempotent, with credentials the registrar accepts."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import sys
from pathlib import Path

from centralino.v1 import config_pb2

from .conftest import Running, service_env


async def _seed(env: dict[str, str], creds: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "centralino_config_api",
        "seed-demo",
        "--tenant",
        "demo",
        "--first",
        "200",
        "--last",
        "203",
        "--credentials",
        str(creds),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_seed_demo_is_idempotent_and_matches_grpc_REG_07(
    api: Running, tmp_path: Path
) -> None:
    env = service_env(api.database_url, api.nats_url)
    creds = tmp_path / "creds.txt"
    code, out, err = await _seed(env, creds)
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert [u for u, _ in lines] == ["200", "201", "202", "203"]
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    first = dict(lines)
    code, out2, err = await _seed(env, creds)
    assert code == 0, err
    assert dict(line.split() for line in out2.splitlines()) == first  # passwords kept
    acc = await api.stub.GetAccount(config_pb2.GetAccountRequest(username="201"))
    assert acc.tenant == "demo" and acc.enabled and acc.extension_enabled
    want = hashlib.md5(f"201:centralino:{first['201']}".encode()).hexdigest()
    assert {s.algorithm: s.ha1 for s in acc.secrets}["MD5"] == want
    assert list(acc.audio_codecs) == ["PCMA", "PCMU", "G722", "OPUS"]
    status, body, _ = await api.call("GET", "/api/v1/tenants/demo/extensions")
    assert status == 200 and body["total"] == 4


async def test_seed_demo_without_secret_key_fails_clearly(api: Running, tmp_path: Path) -> None:
    env = service_env(api.database_url, api.nats_url)
    env["CENTRALINO_SECRET_KEY"] = ""
    code, _, err = await _seed(env, tmp_path / "c.txt")
    assert code != 0 and "CENTRALINO_SECRET_KEY" in err


async def test_migrate_subcommand_is_idempotent(database_url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,  # no secret key needed to migrate
    }
    outs = []
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "centralino_config_api",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        outs.append(out.decode())
    assert "applied 0001_schema.sql" in outs[0] and outs[1] == ""

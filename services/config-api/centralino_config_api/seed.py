"""``seed-demo``: an idempotent demo tenant with one SIP account per extension."""

from __future__ import annotations

import os
from pathlib import Path

from centralino_config_api import tenants
from centralino_config_api.core import Core
from centralino_config_api.crypto import random_sip_password
from centralino_config_api.errors import NotFound
from centralino_config_api.model import DEFAULT_AUDIO


def read_credentials(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            out[parts[0]] = parts[1]
    return out


def write_credentials(path: Path, creds: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# username password (Centralino demo SIP accounts)\n")
        f.writelines(f"{u} {p}\n" for u, p in creds)
    os.replace(tmp, path)


async def seed_demo(
    core: Core, tenant: str, first: int, last: int, credentials: Path | None
) -> list[tuple[str, str]]:
    """Create what is missing; an existing account keeps its password (the stored one is
    authoritative, the file only supplies passwords for accounts not yet created)."""
    known = read_credentials(credentials) if credentials else {}
    out: list[tuple[str, str]] = []
    async with core.tx() as conn:
        await tenants.ensure(conn, tenant, tenant.capitalize(), core.licences)
        for n in range(first, last + 1):
            number = str(n)
            try:
                await core.extensions.row(conn, tenant, number)
            except NotFound:
                await core.extensions.create(
                    conn,
                    tenant,
                    {
                        "number": number,
                        "first_name": "Demo",
                        "last_name": number,
                    },
                )
            row = await conn.fetchrow(
                "SELECT username, password_enc FROM accounts WHERE username = $1", number
            )
            if row is not None:
                out.append((number, core.accounts.password(row)))
                continue
            password = known.get(number) or random_sip_password()
            if not (password.isalnum() and 8 <= len(password) <= 64):
                password = random_sip_password()
            await core.accounts.create(
                conn,
                tenant,
                {
                    "username": number,
                    "password": password,
                    "extension": number,
                    "settings": {"audio_codecs": list(DEFAULT_AUDIO)},
                },
            )
            out.append((number, password))
    if credentials is not None:
        write_credentials(credentials, out)
    return out

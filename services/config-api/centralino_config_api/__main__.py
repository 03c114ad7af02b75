"""Entry point: ``centralino-config-api [migrate | seed-demo ...]``; no argument serves."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from centralino.service import run
from centralino.settings import SettingsError, database_url
from centralino_config_api.core import Core, migrate
from centralino_config_api.errors import LicenceRequired, LicensingUnavailable
from centralino_config_api.licence_gate import LicenceGate
from centralino_config_api.seed import seed_demo
from centralino_config_api.service import ConfigApiService
from centralino_config_api.settings import ApiSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="centralino-config-api")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (the default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    seed = sub.add_parser("seed-demo", help="create (idempotently) a demo tenant")
    seed.add_argument("--tenant", default="demo")
    seed.add_argument("--first", type=int, default=200)
    seed.add_argument("--last", type=int, default=209)
    seed.add_argument("--credentials", type=Path, help="write 'username password' lines here")
    return p


async def _migrate() -> None:
    for name in await migrate(database_url(os.environ)):
        print(f"applied {name}")


async def _seed(args: argparse.Namespace) -> None:
    settings = ApiSettings.from_env(os.environ)
    core = await Core.open(settings.database_url, settings.secret_key, max_size=2)
    if settings.enforce_licences:
        core.licences = LicenceGate(settings.licensing_address)
    try:
        creds = await seed_demo(core, args.tenant, args.first, args.last, args.credentials)
    finally:
        await core.close()
    for username, password in creds:
        print(f"{username} {password}")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "serve"):
            run("config-api", ConfigApiService)
        elif args.command == "migrate":
            asyncio.run(_migrate())
        elif args.command == "seed-demo":
            if not 0 <= args.first <= args.last or args.last - args.first > 10_000:
                sys.exit("seed-demo: need 0 <= --first <= --last, at most 10000 extensions")
            asyncio.run(_seed(args))
    except (SettingsError, LicenceRequired, LicensingUnavailable) as exc:
        sys.exit(f"config-api: {exc}")


if __name__ == "__main__":
    main()

"""The ``centralino`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from centralino.runner.embedded import EmbeddedError
from centralino.runner.layout import SERVICES, Layout
from centralino.runner.suite import Suite, SuiteError
from centralino.runner.supervisor import ChildError
from centralino.settings import SettingsError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="centralino", description="Centralino IP PBX")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole PBX on this machine")
    up.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("CENTRALINO_DATA_DIR", ".centralino")),
        help="data folder (default: $CENTRALINO_DATA_DIR or ./.centralino)",
    )
    up.add_argument(
        "--demo",
        action="store_true",
        help="seed tenant 'demo' with extensions 200-209, one SIP account each",
    )
    up.add_argument(
        "--only",
        nargs="+",
        choices=list(SERVICES),
        help="start only these services (config-api is always started first)",
    )
    return p


async def _up(args: argparse.Namespace) -> int:
    services = tuple(SERVICES)
    if args.only:
        services = tuple(s for s in SERVICES if s == "config-api" or s in args.only)
    suite = Suite(data_dir=args.data, layout=Layout.from_env(), demo=args.demo, services=services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(suite.start())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done():
        starting.result()  # raises if start failed (suite already cleaned up)
        print(suite.banner(), flush=True)
        await stopped
    else:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    print("stopping...", flush=True)
    await suite.stop()
    print("stopped; no process left behind.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        code = asyncio.run(_up(args))
    except (SuiteError, ChildError, EmbeddedError, SettingsError, OSError) as exc:
        print(f"centralino: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)

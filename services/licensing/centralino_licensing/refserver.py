"""The reference licence server: a small aiohttp app (``centralino-licence-server``).

It keeps, per PBX serial, the licence keys the vendor published (see
:mod:`server_protocol`), optionally persisted in a JSON file. Publishing needs the bearer
token from ``CENTRALINO_LICENCE_SERVER_TOKEN``; without a token publishing is disabled and the
server only serves what its data file holds.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
from pathlib import Path

from aiohttp import web

from centralino_licensing.server_protocol import (
    ProtocolError,
    ServerEntry,
    parse_entry,
)

TOKEN_ENV = "CENTRALINO_LICENCE_SERVER_TOKEN"


def load_data(path: Path) -> dict[str, list[ServerEntry]]:
    """Read ``{"serials": {serial: [entry, ...]}}``; errors name the file and the problem."""
    try:
        document = json.loads(path.read_text())
        serials = document["serials"] if isinstance(document, dict) else None
        if not isinstance(serials, dict):
            raise ProtocolError('expected {"serials": {serial: [entries]}}')
        return {
            str(serial): [parse_entry(item) for item in _entries(items)]
            for serial, items in serials.items()
        }
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, ProtocolError) as exc:
        raise ProtocolError(f"licence data file {path}: {exc}") from None


def _entries(items: object) -> list[object]:
    if not isinstance(items, list):
        raise ProtocolError("each serial must map to a list of entries")
    return items


class LicenceRegistry:
    """Published keys by serial; written through to ``path`` when one is given."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.by_serial: dict[str, list[ServerEntry]] = {}
        if path is not None and path.exists():
            self.by_serial = load_data(path)

    def publish(self, serial: str, entry: ServerEntry) -> None:
        entries = [e for e in self.by_serial.get(serial, []) if e.key != entry.key]
        self.by_serial[serial] = [*entries, entry]
        if self.path is not None:
            document = {
                "serials": {s: [e.as_json() for e in es] for s, es in self.by_serial.items()}
            }
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(document, indent=2))
            tmp.replace(self.path)


REGISTRY = web.AppKey("registry", LicenceRegistry)


async def list_licences(request: web.Request) -> web.Response:
    serial = request.match_info["serial"]
    entries = request.app[REGISTRY].by_serial.get(serial, [])
    return web.json_response({"serial": serial, "licences": [e.as_json() for e in entries]})


def _problem(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def publish_licence(request: web.Request) -> web.Response:
    token = os.environ.get(TOKEN_ENV, "")
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token:
        raise _problem(web.HTTPForbidden, f"publishing is disabled: {TOKEN_ENV} is not set")
    if not hmac.compare_digest(offered.encode(), token.encode()):
        raise _problem(web.HTTPUnauthorized, "a valid bearer token is required to publish")
    try:
        entry = parse_entry(await request.json())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _problem(web.HTTPBadRequest, "the body is not JSON") from None
    except ProtocolError as exc:
        raise _problem(web.HTTPBadRequest, str(exc)) from None
    request.app[REGISTRY].publish(request.match_info["serial"], entry)
    return web.json_response(entry.as_json(), status=201)


def create_app(registry: LicenceRegistry | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[REGISTRY] = registry or LicenceRegistry()
    app.router.add_get("/v1/serials/{serial}/licences", list_licences)
    app.router.add_post("/v1/serials/{serial}/licences", publish_licence)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="centralino-licence-server", description="Centralino reference licence server"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--data", type=Path, help="JSON file holding the published licences")
    args = parser.parse_args(argv)
    try:
        registry = LicenceRegistry(args.data)
    except ProtocolError as exc:
        parser.exit(2, f"centralino-licence-server: {exc}\n")
    web.run_app(create_app(registry), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

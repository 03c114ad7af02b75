"""Fetching this PBX's licences from the licence server (LIC-05), defensively.

The server may be down, slow, or answer garbage; each case becomes a
:class:`LicenceServerError` whose reason (``server_down``, ``server_timeout``,
``server_status``, ``server_garbage``) and message say which, and nothing waits longer than
the configured timeout for the whole exchange.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import aiohttp

from centralino_licensing.errors import LicenceServerError
from centralino_licensing.server_protocol import (
    MAX_BODY,
    ProtocolError,
    ServerEntry,
    parse_listing,
)


async def fetch_licences(base_url: str, serial: str, timeout: float) -> list[ServerEntry]:
    url = f"{base_url.rstrip('/')}/v1/serials/{quote(serial, safe='')}/licences"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status != 200:
                raise LicenceServerError(
                    "server_status", f"licence server at {base_url} answered HTTP {response.status}"
                )
            if response.content_length is not None and response.content_length > MAX_BODY:
                raise LicenceServerError(
                    "server_garbage", f"licence server answer is larger than {MAX_BODY} bytes"
                )
            body = await response.content.read(MAX_BODY + 1)
    except TimeoutError:
        raise LicenceServerError(
            "server_timeout", f"licence server at {base_url} did not answer within {timeout:g}s"
        ) from None
    except aiohttp.ClientError as exc:
        raise LicenceServerError(
            "server_down", f"cannot reach the licence server at {base_url}: {exc}"
        ) from None
    if len(body) > MAX_BODY:
        raise LicenceServerError(
            "server_garbage", f"licence server answer is larger than {MAX_BODY} bytes"
        )
    try:
        return parse_listing(json.loads(body), serial)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LicenceServerError(
            "server_garbage", f"licence server at {base_url} did not answer JSON"
        ) from None
    except ProtocolError as exc:
        raise LicenceServerError(
            "server_garbage", f"licence server at {base_url} answered a bad licence list: {exc}"
        ) from None

"""SIP over WebSocket with a browser SIP stack: JsSIP in headless Chromium (FEAT-01, REG-01).

JsSIP comes from npm (``npm ci`` in ``web/``) and is bundled for the browser with the
esbuild it pins. The page registers over WS or WSS, then reports to its own HTTP server;
the test then reaches the browser over the flow it registered on.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from centralino.sip.transport import TransportKind, self_signed_server_context

from .external import HERE, need, process, run
from .minimal_server import MinimalServer

pytestmark = pytest.mark.e2e

WEB = HERE / "web"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The WSS listener has a self-signed certificate made by the test.
    "--ignore-certificate-errors",
]


@pytest.fixture(scope="module")
async def jssip_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    entry = WEB / "node_modules" / "jssip" / "lib" / "JsSIP.js"
    if not (esbuild.exists() and entry.exists()):
        pytest.skip(
            f"JsSIP/esbuild not installed: run `npm ci` in {WEB.relative_to(HERE.parent.parent)}"
        )
    out = tmp_path_factory.mktemp("web") / "jssip.js"
    code, log = await run(
        str(esbuild), str(entry), "--bundle", "--format=iife", "--global-name=JsSIP",
        f"--outfile={out}", "--log-level=warning", timeout=60,
    )  # fmt: skip
    assert code == 0, log
    return out


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ssl.SSLContext]:
    context, _ = self_signed_server_context(["127.0.0.1"], tmp_path_factory.mktemp("tls"))
    yield context


class PageServer:
    """Serves the test page and the bundle, and collects the page's reports."""

    def __init__(self, bundle: Path) -> None:
        self.reports: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        app = web.Application()
        self.bundle = bundle
        app.router.add_get("/index.html", self._page)
        app.router.add_get("/jssip.js", self._bundle)
        app.router.add_get("/report", self._report)
        self.runner = web.AppRunner(app, access_log=None)
        self.port = 0

    async def _page(self, _: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB / "index.html")

    async def _bundle(self, _: web.Request) -> web.FileResponse:
        return web.FileResponse(self.bundle)

    async def _report(self, request: web.Request) -> web.Response:
        self.reports.put_nowait((request.query["event"], request.query.get("detail", "")))
        return web.Response(text="ok")

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def next_report(self, timeout: float = 20.0) -> tuple[str, str]:
        async with asyncio.timeout(timeout):
            return await self.reports.get()


@pytest.mark.parametrize("kind", [TransportKind.WS, TransportKind.WSS])
async def test_reg01_jssip_in_chromium_registers_over_websocket(
    jssip_bundle: Path, tls: ssl.SSLContext, tmp_path: Path, kind: TransportKind
) -> None:
    chromium = need("chromium")
    server = MinimalServer()
    page = PageServer(jssip_bundle)
    try:
        listener = await server.listen(kind, "127.0.0.1", 0, tls if kind.secure else None)
        await page.start()
        ws_url = f"{kind.value}://127.0.0.1:{listener.local[1]}"
        url = f"http://127.0.0.1:{page.port}/index.html?ws={ws_url}"
        profile = f"--user-data-dir={tmp_path / 'profile'}"
        async with process(chromium, *CHROMIUM_FLAGS, profile, url):
            event, detail = await page.next_report()
            assert event == "registered", (event, detail)
            assert ";expires=300" in detail
            registration = await server.next_registration()
            assert registration.flow.kind is kind
            assert registration.aor == "sip:alice@127.0.0.1"
            assert "transport=ws" in registration.contact.lower()  # JsSIP writes ws for WSS too
            # REG-01: the browser can only be reached over the flow it registered on.
            status, flow = await server.request_over_flow(registration.flow.flow_id, "OPTIONS")
            assert (status, flow) == (200, registration.flow)
    finally:
        await page.runner.cleanup()
        await server.close()

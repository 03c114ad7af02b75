"""The config-api service process: migrations, the admin REST API, gRPC look-ups and the
outbox publisher, wired to the shared runtime."""

from __future__ import annotations

import logging

from aiohttp import web

from centralino.service import ServiceContext
from centralino.settings import CommonSettings
from centralino.v1 import config_pb2_grpc
from centralino_config_api import users
from centralino_config_api.api.app import build_app
from centralino_config_api.core import Core
from centralino_config_api.grpc_service import SERVICE_NAME, ConfigServicer
from centralino_config_api.licence_gate import LicenceGate
from centralino_config_api.outbox import OutboxPublisher
from centralino_config_api.settings import ApiSettings

log = logging.getLogger(__name__)


class ConfigApiService:
    grpc_services: list[str] = [SERVICE_NAME]

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self.api = ApiSettings.from_env(settings.environ)
        self.core: Core | None = None
        self.outbox: OutboxPublisher | None = None
        self.runner: web.AppRunner | None = None
        #: the bound REST port (useful when CENTRALINO_API_LISTEN asks for port 0)
        self.api_port = 0
        self.ctx: ServiceContext | None = None

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.core = core = await Core.open(self.api.database_url, self.api.secret_key)
        if self.api.enforce_licences:
            core.licences = LicenceGate(self.api.licensing_address)
        async with core.tx() as conn:
            generated = await users.ensure_admin(conn, self.api.admin_password)
        if generated:
            log.warning(
                "created user 'admin' with generated password %s; set "
                "CENTRALINO_ADMIN_PASSWORD to choose one",
                generated,
            )
        config_pb2_grpc.add_ConfigServiceServicer_to_server(
            ConfigServicer(core.pool, core.extensions, core.accounts, core.catalog),
            ctx.grpc.server,
        )
        self.outbox = OutboxPublisher(core.pool, ctx.bus, lambda t: ctx.event_meta(t))
        await self.outbox.start()
        self.runner = web.AppRunner(build_app(core, self.api.licensing_address), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.api.api_host, self.api.api_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.api_port = sockets[0].getsockname()[1] if sockets else self.api.api_port
        log.info("admin API listening", extra={"api_port": self.api_port})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.outbox is not None:
            await self.outbox.stop()
            self.outbox = None
        if self.core is not None:
            await self.core.close()
            self.core = None

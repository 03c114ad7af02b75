"""The media service process: wires its components to the shared runtime."""

from __future__ import annotations

from centralino.service import ServiceContext
from centralino.settings import CommonSettings


class MediaService:
    grpc_services: list[str] = []

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def stop(self) -> None:
        return None

"""The asyncio UDP adapter for :class:`SnmpAgent`."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from centralino_directory.snmp.agent import SnmpAgent

log = logging.getLogger(__name__)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, agent: SnmpAgent) -> None:
        self.agent = agent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's UDP transport does not inherit from DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = self.agent.handle_datagram(data, time.time())
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.info("snmp socket error: %s", exc)


class SnmpServer:
    def __init__(self, agent: SnmpAgent) -> None:
        self.agent = agent
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        if self._transport is None:
            raise RuntimeError("SNMP agent is not listening")
        return int(self._transport.get_extra_info("sockname")[1])

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self.agent), local_addr=(host, port)
        )
        self._transport = transport
        log.info("snmp listening", extra={"port": self.port})
        return self.port

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

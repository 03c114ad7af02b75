"""The asyncio adapter: a TCP listener feeding each connection's bytes to
:class:`LdapServerConnection` and writing back what it returns."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from centralino_directory.ldap.connection import Credentials, LdapServerConnection, Limits
from centralino_directory.ldap.tree import PhonebookTree

log = logging.getLogger(__name__)

#: an idle client is dropped after this long (phones open a connection per lookup)
IDLE_TIMEOUT = 300.0
#: connections served at once; more are closed on arrival so a flood cannot exhaust memory
MAX_CLIENTS = 1024


class LdapServer:
    def __init__(
        self,
        tree: PhonebookTree,
        credentials: Credentials,
        limits: Limits | None = None,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.tree = tree
        self.credentials = credentials
        self.limits = limits or Limits()
        self.idle_timeout = idle_timeout
        self.max_clients = max_clients
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("LDAP server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._on_client, host, port)
        log.info("ldap listening", extra={"port": self.port})
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        if len(self._clients) >= self.max_clients:
            log.warning("ldap client refused: %d connections open", len(self._clients))
            writer.close()
            return
        self._clients.add(task)
        conn = LdapServerConnection(self.tree, self.credentials, self.limits)
        try:
            while not conn.closed:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.idle_timeout)
                except TimeoutError:
                    log.info("ldap client idle, closing", extra={"peer": str(peer)})
                    break
                if not data:
                    break
                reply = conn.receive_data(data)
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("ldap client dropped: %s", exc, extra={"peer": str(peer)})
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

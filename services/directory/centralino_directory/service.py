"""The directory service process: the LDAP phonebook server, the directory imports, the
SNMP agent and DirectoryService over gRPC, wired to the shared runtime."""

from __future__ import annotations

import contextlib
import logging
import time

import grpc
import nats.errors
from nats.js.client import JetStreamContext

from centralino import __version__
from centralino.grpcserver import channel
from centralino.service import ServiceContext
from centralino.settings import DEFAULT_GRPC_PORTS, CommonSettings
from centralino.v1 import directory_pb2_grpc
from centralino_directory.config_feed import ConfigFeed, GrpcExtensionLoader
from centralino_directory.grpc_api import SERVICE_NAME, DirectoryServicer
from centralino_directory.ldap import Credentials, LdapServer, PhonebookTree
from centralino_directory.ldapimport import ImportScheduler
from centralino_directory.metrics_feed import MetricsFeed
from centralino_directory.phonebook import DirectoryStore
from centralino_directory.settings import DirectorySettings
from centralino_directory.snmp import MetricsState, SnmpServer, SystemInfo, make_agent

log = logging.getLogger(__name__)


class DirectoryService:
    grpc_services: list[str] = [SERVICE_NAME]

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = DirectorySettings.from_common(settings)
        self.store = DirectoryStore(self.settings.publication_rule)
        self.metrics = MetricsState(services=list(DEFAULT_GRPC_PORTS))
        s = self.settings
        self.ldap = LdapServer(
            PhonebookTree(self.store, s.ldap_suffix),
            Credentials(s.ldap_users, allow_anonymous=s.ldap_anonymous),
            s.ldap_limits,
        )
        self.imports = ImportScheduler(self.store, s.imports)
        self.snmp = SnmpServer(
            make_agent(
                self.metrics,
                SystemInfo(
                    descr=f"Centralino {__version__} directory service",
                    contact=s.snmp_contact,
                    name=s.snmp_name,
                    location=s.snmp_location,
                ),
                s.snmp_community,
                started=time.time(),
                refresh=self._refresh_metrics,
            )
        )
        self.ctx: ServiceContext | None = None
        self._channels: list[grpc.aio.Channel] = []
        self.metrics_feed: MetricsFeed | None = None
        self.config_feed: ConfigFeed | None = None
        self._config_sub: JetStreamContext.PushSubscription | None = None

    def _refresh_metrics(self) -> None:
        self.metrics.phonebook_entries = self.store.ldap_entry_count()

    async def start(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        s = self.settings
        config_channel = channel(ctx.settings.grpc_address("config-api"))
        licensing_channel = channel(ctx.settings.grpc_address("licensing"))
        self._channels = [config_channel, licensing_channel]

        directory_pb2_grpc.add_DirectoryServiceServicer_to_server(
            DirectoryServicer(self.store, self.imports), ctx.grpc.server
        )
        await self.ldap.start(*s.ldap_listen)
        await self.snmp.start(*s.snmp_listen)

        self.config_feed = ConfigFeed(self.store, GrpcExtensionLoader(config_channel))
        self._config_sub = await self.config_feed.start(ctx.bus.js)
        self.metrics_feed = MetricsFeed(self.metrics, ctx.bus)
        await self.metrics_feed.start()
        self.metrics_feed.poll_licences(licensing_channel, s.licence_pool, s.metrics_poll_seconds)
        self.imports.start()
        log.info(
            "directory started",
            extra={"ldap_port": self.ldap.port, "snmp_port": self.snmp.port},
        )

    async def stop(self) -> None:
        await self.imports.stop()
        if self._config_sub is not None:
            with contextlib.suppress(nats.errors.Error):  # the connection may be closing
                await self._config_sub.unsubscribe()
        if self.metrics_feed is not None:
            await self.metrics_feed.stop()
        await self.snmp.stop()
        await self.ldap.stop()
        for ch in self._channels:
            await ch.close(None)
        self._channels = []

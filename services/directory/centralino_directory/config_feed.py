"""Keeping the store's extensions in step with config-api.

config-api announces every committed change on ``centralino.<tenant>.config.<kind>.<op>``
(ConfigChanged, ``key`` = the extension number). For each extension event the feed asks
an :class:`ExtensionLoader` for the extension's current state and publishes that, so
events delivered twice or out of order still end in the right state.

At start the feed loads every extension with ``ListExtensions``, then follows the events
from the moment the load began, so a change made during the load is applied after it.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from typing import Protocol

import grpc
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from centralino.bus.subjects import SubjectError, tenant_of
from centralino.v1 import config_pb2, config_pb2_grpc
from centralino_directory.phonebook.publication import (
    ExtensionRecord,
    PublicationError,
    extension_from_settings,
)
from centralino_directory.phonebook.store import DirectoryStore

log = logging.getLogger(__name__)

EXTENSION_EVENTS = "centralino.*.config.extension.*"


class ConfigSourceError(RuntimeError):
    """config-api could not be asked (unreachable, or it failed)."""


class ExtensionLoader(Protocol):
    async def get_extension(self, tenant: str, number: str) -> ExtensionRecord | None:
        """The extension's current phonebook settings; None when it does not exist."""
        ...

    async def list_extensions(self) -> list[tuple[str, ExtensionRecord]]:
        """Every extension of every tenant, as (extension id, record)."""
        ...


def extension_from_message(message: config_pb2.Extension) -> ExtensionRecord:
    try:
        document = json.loads(message.settings_json or b"{}")
    except json.JSONDecodeError as exc:
        raise PublicationError("settings_json", f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PublicationError("settings_json", "expected a JSON object")
    return extension_from_settings(message.tenant, message.number, message.enabled, document)


class GrpcExtensionLoader:
    """Reads extensions through config-api's ConfigService.GetExtension."""

    def __init__(self, channel: grpc.aio.Channel, timeout: float = 5.0) -> None:
        self.stub = config_pb2_grpc.ConfigServiceStub(channel)
        self.timeout = timeout

    async def get_extension(self, tenant: str, number: str) -> ExtensionRecord | None:
        try:
            reply = await self.stub.GetExtension(
                config_pb2.GetExtensionRequest(tenant=tenant, number=number), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise ConfigSourceError(f"GetExtension {tenant}/{number}: {exc.details()}") from exc
        return extension_from_message(reply)

    async def list_extensions(self) -> list[tuple[str, ExtensionRecord]]:
        found: list[tuple[str, ExtensionRecord]] = []
        token = ""
        while True:
            try:
                page = await self.stub.ListExtensions(
                    config_pb2.ListExtensionsRequest(page_size=500, page_token=token),
                    timeout=self.timeout,
                )
            except grpc.aio.AioRpcError as exc:
                raise ConfigSourceError(f"ListExtensions: {exc.details()}") from exc
            for message in page.extensions:
                try:
                    found.append((message.id, extension_from_message(message)))
                except PublicationError as exc:
                    log.warning(
                        "extension %s/%s has invalid phonebook settings: %s",
                        message.tenant,
                        message.number,
                        exc,
                    )
            token = page.next_page_token
            if not token:
                return found


class ConfigFeed:
    def __init__(self, store: DirectoryStore, loader: ExtensionLoader) -> None:
        self.store = store
        self.loader = loader
        # extension id → number, to drop the old entry when an extension is renumbered
        self._numbers: dict[tuple[str, str], str] = {}
        self.applied = 0
        #: notified after each event is applied, for whoever waits for the store to catch up
        self.changed = asyncio.Condition()

    async def apply(self, tenant: str, event: config_pb2.ConfigChanged) -> None:
        if event.kind != "extension":
            return
        number = event.key
        previous = self._numbers.get((tenant, event.id))
        if event.op == "deleted":
            self.store.remove_extension(tenant, number or previous or "")
            self._numbers.pop((tenant, event.id), None)
            self.applied += 1
            return
        if not number:
            log.warning("extension event without a number", extra={"tenant": tenant})
            return
        try:
            record = await self.loader.get_extension(tenant, number)
        except PublicationError as exc:
            log.warning("extension %s/%s has invalid phonebook settings: %s", tenant, number, exc)
            return
        if previous is not None and previous != number:
            self.store.remove_extension(tenant, previous)
        if record is None:
            self.store.remove_extension(tenant, number)
            self._numbers.pop((tenant, event.id), None)
        else:
            self.store.put_extension(record)
            self._numbers[(tenant, event.id)] = number
        self.applied += 1

    async def on_message(self, msg: Msg) -> None:
        try:
            tenant = tenant_of(msg.subject)
            event = config_pb2.ConfigChanged.FromString(msg.data)
        except (SubjectError, DecodeError):
            log.warning("dropping undecodable config event on %s", msg.subject)
            return
        try:
            await self.apply(tenant, event)
        except ConfigSourceError as exc:
            # Not retried: the next change of this extension, or a restart, reloads it.
            log.warning("cannot load extension: %s", exc, extra={"tenant": tenant})
        async with self.changed:
            self.changed.notify_all()

    async def load_all(self) -> int:
        """Load every extension; returns how many."""
        records = await self.loader.list_extensions()
        for extension_id, record in records:
            self.store.put_extension(record)
            self._numbers[(record.tenant, extension_id)] = record.number
        return len(records)

    async def start(self, js: JetStreamContext) -> JetStreamContext.PushSubscription:
        """Load everything, then follow the changes made since the load began."""
        began = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        count = await self.load_all()
        log.info("loaded extensions", extra={"count": count})
        return await js.subscribe(
            EXTENSION_EVENTS,
            cb=self.on_message,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=began,
            ),
        )

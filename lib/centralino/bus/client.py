"""A thin NATS/JetStream adapter: protobuf payloads, trace context in headers, KV buckets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from centralino.bus.subjects import EVENTS_STREAM, EVENTS_SUBJECTS

log = logging.getLogger(__name__)
tracer = trace.get_tracer("centralino.bus")

M = TypeVar("M", bound=Message)

TYPE_HEADER = "Centralino-Type"


class BusError(RuntimeError):
    """The bus could not do what was asked (connection, stream or bucket set-up)."""


class Bus:
    """One NATS connection per process, shared by every component of a service."""

    def __init__(self, nc: NatsClient, name: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.name = name

    @classmethod
    async def connect(cls, url: str, name: str, *, connect_timeout: float = 5.0) -> Bus:
        async def on_error(exc: Exception) -> None:
            log.warning("nats error: %s", exc)

        try:
            nc = await nats.connect(
                url,
                name=name,
                connect_timeout=connect_timeout,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=on_error,
            )
        except Exception as exc:  # nats-py raises several unrelated types here
            raise BusError(f"cannot connect to NATS at {url}: {exc}; set NATS_URL") from exc
        return cls(nc, name)

    async def ensure_events_stream(self, max_age_seconds: float = 7 * 24 * 3600) -> None:
        config = StreamConfig(
            name=EVENTS_STREAM,
            subjects=EVENTS_SUBJECTS,
            storage=StorageType.FILE,
            max_age=max_age_seconds,
        )
        try:
            await self.js.stream_info(EVENTS_STREAM)
        except NotFoundError:
            await self.js.add_stream(config)

    async def kv(self, bucket: str, *, ttl: float | None = None, history: int = 1) -> KeyValue:
        """Open (or create) a JetStream KV bucket."""
        try:
            return await self.js.key_value(bucket)
        except BucketNotFoundError:
            return await self.js.create_key_value(
                KeyValueConfig(bucket=bucket, history=history, ttl=ttl)
            )

    @staticmethod
    def _headers(message: Message) -> dict[str, str]:
        headers: dict[str, str] = {TYPE_HEADER: message.DESCRIPTOR.full_name}
        propagate.inject(headers)
        return headers

    async def publish(self, subject: str, message: Message, *, durable: bool = True) -> None:
        """Publish an event; durable ones are acknowledged by JetStream before returning."""
        payload = message.SerializeToString()
        headers = self._headers(message)
        if durable:
            await self.js.publish(subject, payload, headers=headers)
        else:
            await self.nc.publish(subject, payload, headers=headers)

    async def subscribe(
        self,
        subject: str,
        message_type: type[M],
        handler: Callable[[str, M], Awaitable[None]],
        *,
        queue: str = "",
    ) -> Subscription:
        """Core-NATS subscription decoding ``message_type``; the handler runs in the
        publisher's trace context."""

        async def on_msg(msg: Msg) -> None:
            event = _decoded(message_type, msg)
            if event is None:
                return
            ctx = propagate.extract(msg.headers or {})
            token = otel_context.attach(ctx)
            try:
                with tracer.start_as_current_span(f"nats receive {msg.subject}"):
                    await handler(msg.subject, event)
            finally:
                otel_context.detach(token)

        return await self.nc.subscribe(subject, queue=queue, cb=on_msg)

    async def answer(
        self,
        subject: str,
        request_type: type[M],
        handler: Callable[[M], Awaitable[Message | None]],
    ) -> Subscription:
        """Serve requests on ``subject`` (core NATS): every subscriber may answer (None:
        stay silent), so a requester can gather from all replicas of a service."""

        async def on_msg(msg: Msg) -> None:
            request = _decoded(request_type, msg)
            if request is None:
                return
            reply = await handler(request)
            if msg.reply and reply is not None:
                await self.nc.publish(
                    msg.reply, reply.SerializeToString(), headers=self._headers(reply)
                )

        return await self.nc.subscribe(subject, cb=on_msg)

    async def gather(
        self, subject: str, request: Message, reply_type: type[M], window: float
    ) -> list[M]:
        """Ask every server of ``subject`` and collect the answers that arrive within
        ``window`` seconds (scatter-gather: the number of replicas is not known here)."""
        replies: list[M] = []

        async def on_reply(msg: Msg) -> None:
            reply = _decoded(reply_type, msg)
            if reply is not None:
                replies.append(reply)

        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, cb=on_reply)
        try:
            await self.nc.publish(
                subject, request.SerializeToString(), reply=inbox, headers=self._headers(request)
            )
            await asyncio.sleep(window)  # the window is the protocol: answers after it are late
        finally:
            await sub.unsubscribe()
        return replies

    async def close(self) -> None:
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception as exc:  # draining a dead connection must not block shutdown
                log.info("nats drain failed: %s", exc)


def _decoded(message_type: type[M], msg: Msg) -> M | None:
    """The message's protobuf payload; None (logged) when it is not one."""
    try:
        return message_type.FromString(msg.data)
    except DecodeError:
        log.warning("dropping undecodable %s on %s", message_type.__name__, msg.subject)
        return None

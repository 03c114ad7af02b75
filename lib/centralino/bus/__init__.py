"""The message bus: NATS events with protobuf payloads, JetStream streams and KV buckets."""

from centralino.bus.client import Bus, BusError
from centralino.bus.subjects import (
    EVENTS_STREAM,
    SYSTEM_TENANT,
    SubjectError,
    any_tenant,
    calls_subject,
    event_subject,
    heartbeat_subject,
    ringing_subject,
    tenant_of,
    tenant_wildcard,
)

__all__ = [
    "EVENTS_STREAM",
    "SYSTEM_TENANT",
    "Bus",
    "BusError",
    "SubjectError",
    "any_tenant",
    "calls_subject",
    "event_subject",
    "heartbeat_subject",
    "ringing_subject",
    "tenant_of",
    "tenant_wildcard",
]

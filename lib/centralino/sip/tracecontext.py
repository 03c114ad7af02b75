"""W3C trace context carried in SIP headers between our own services.

The registrar and the router are separate processes joined by SIP (ADR 0001); a
``traceparent``/``tracestate`` header pair on the messages between them makes a REGISTER
or a call one trace across SIP, gRPC and NATS. The registrar strips these headers from
phone traffic, like the other internal ones, so phones can neither see nor forge them.
"""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

from centralino.sip.headers import Headers

TRACE_HEADERS = ("traceparent", "tracestate")


class _SipGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


class _SipSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier.set(key, value)


_GETTER = _SipGetter()
_SETTER = _SipSetter()


def inject(headers: Headers, context: Context | None = None) -> None:
    """Write the current (or given) trace context into ``headers``."""
    propagate.inject(headers, context=context, setter=_SETTER)


def extract(headers: Headers) -> Context:
    """The trace context a message carries (an empty context when it carries none)."""
    return propagate.extract(headers, getter=_GETTER)


def strip(headers: Headers) -> None:
    """Remove trace headers, e.g. from a phone's message entering the edge."""
    for name in TRACE_HEADERS:
        headers.remove(name)

"""Trace context on the router's SIP messages: the registrar's trace continues here and
goes back with every request and response the router sends it (``centralino.sip.tracecontext``
does the W3C encoding; this adapts it to the router's own message type)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context

from centralino.sip import tracecontext
from centralino.sip.headers import Headers
from centralino_router.sipmsg import SipMessage

tracer = trace.get_tracer("centralino.router")


def extract(message: SipMessage) -> Context:
    """The trace context the registrar put on ``message`` (empty when there is none)."""
    return tracecontext.extract(Headers.from_pairs(message.headers))


def inject(message: SipMessage) -> None:
    """Put the current trace context on ``message``, replacing any it carried."""
    carrier = Headers()
    tracecontext.inject(carrier)
    for name in tracecontext.TRACE_HEADERS:
        message.remove(name)
    for name, value in carrier:
        message.set(name, value)

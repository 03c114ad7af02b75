"""Trace context crosses the SIP hop between our services (one trace per call)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from centralino.sip import parse_message
from centralino.sip.tracecontext import extract, inject, strip

INVITE = (
    b"INVITE sip:201@pbx SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\r\n"
    b"From: <sip:200@pbx>;tag=a\r\nTo: <sip:201@pbx>\r\nCall-ID: c1\r\n"
    b"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)

tracer = TracerProvider().get_tracer(__name__)


def test_context_injected_by_one_service_is_extracted_by_the_next() -> None:
    msg = parse_message(INVITE)
    with tracer.start_as_current_span("registrar: proxy INVITE") as span:
        inject(msg.headers)
        sent = span.get_span_context()
    received = parse_message(bytes(msg))
    assert received.headers.get("traceparent", "").startswith("00-")
    remote = trace.get_current_span(extract(received.headers)).get_span_context()
    assert (remote.trace_id, remote.span_id) == (sent.trace_id, sent.span_id)
    assert remote.is_remote


def test_a_message_without_trace_headers_starts_no_remote_context() -> None:
    assert (
        not trace.get_current_span(extract(parse_message(INVITE).headers))
        .get_span_context()
        .is_valid
    )


def test_strip_removes_what_a_phone_might_forge() -> None:
    msg = parse_message(INVITE)
    msg.headers.add("traceparent", "00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    msg.headers.add("TraceState", "x=y")
    strip(msg.headers)
    assert "traceparent" not in msg.headers and "tracestate" not in msg.headers

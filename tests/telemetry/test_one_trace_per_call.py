"""One trace per REGISTER and per call across the services, and the core metrics.

config-api, registrar, router and media run in this process (as in the router's suite
tests, whose fixtures are reused) with one tracer provider exporting to memory. All
services share that provider, hence one ``service.name`` resource; a span's service is
told by its instrumentation scope (``centralino.registrar``, ``centralino.router``) or,
for the gRPC servers, by the SERVER span's RPC name (``/centralino.v1.ConfigService/..``
is config-api, ``/centralino.v1.MediaService/..`` is media).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from router.conftest import Tenant
from router.sipp import Sipp, caller_through_edge, credentials, device_answers
from router.test_suite_e2e import Suite, _call, _device

from .conftest import Telemetry
from .readings import histogram_count, metric_names, sum_of

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed"),
]

GRPC_SERVERS = {"ConfigService": "config-api", "MediaService": "media"}
SCOPES = {"centralino.registrar": "registrar", "centralino.router": "router"}


def service_of(span: ReadableSpan) -> str | None:
    scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
    if scope in SCOPES:
        return SCOPES[scope]
    if span.kind is SpanKind.SERVER and span.name.startswith("/centralino.v1."):
        return GRPC_SERVERS.get(span.name.split("/")[1].removeprefix("centralino.v1."))
    return None


def trace_of(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


def connected(spans: list[ReadableSpan]) -> bool:
    """One root, and every other span's parent is in the trace."""
    ids = {s.context.span_id for s in spans if s.context is not None}
    roots = [s for s in spans if s.parent is None]
    return len(roots) == 1 and all(s.parent is None or s.parent.span_id in ids for s in spans)


def call_id_of(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("sip.call_id", ""))


async def test_a_register_is_one_trace_with_its_config_lookup_REG_01_REG_02(
    telemetry: Telemetry, suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    """Each REGISTER the edge receives is the root of its own trace; the first one of a
    new account looks it up in config-api over gRPC, and that server span is in the same
    trace. The registration is counted (``centralino.registrar.registrations``)."""
    registered_before = sum_of(
        telemetry.metrics, "centralino.registrar.registrations", event="registered"
    )
    failures_before = sum_of(telemetry.metrics, "centralino.registrar.auth.failures")
    await tenant.extension("201")
    user = await tenant.account("desk", "201")
    device = Sipp(tmp_path, "desk", device_answers())
    telemetry.exporter.clear()  # from here on, the edge sees only this device's REGISTERs
    good = credentials(device.dir / "auth.csv", user, "Secret12345")
    assert (await device.register(suite.registrar_udp, good)).ok

    def register_traces(spans: Sequence[ReadableSpan]) -> list[list[ReadableSpan]] | None:
        edge = [s for s in spans if s.name == "SIP REGISTER from phone"]
        traces = [trace_of(spans, s.context.trace_id) for s in edge if s.context]
        looked_up = any(
            any(service_of(s) == "config-api" and s.name.endswith("/GetAccount") for s in t)
            for t in traces
        )
        # the challenge and the authenticated REGISTER
        return traces if len(traces) == 2 and looked_up else None

    traces = await telemetry.until("two REGISTER traces with a config-api lookup", register_traces)
    assert traces[0][0].context and traces[1][0].context
    assert traces[0][0].context.trace_id != traces[1][0].context.trace_id
    for spans in traces:
        assert connected(spans), [(s.name, s.parent) for s in spans]
        (root,) = [s for s in spans if s.parent is None]
        assert root.name == "SIP REGISTER from phone" and root.kind is SpanKind.SERVER
    assert (
        sum_of(telemetry.metrics, "centralino.registrar.registrations", event="registered")
        == registered_before + 1
    )
    # a wrong password is an authentication failure, and counted as one
    bad = credentials(device.dir / "bad.csv", user, "Wrong-password-1")
    assert not (await device.register(suite.registrar_udp, bad)).ok
    assert sum_of(telemetry.metrics, "centralino.registrar.auth.failures") > failures_before


async def test_one_call_is_one_connected_trace_across_the_services_EXT_04(
    telemetry: Telemetry, suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    """An anchored call through the edge: the authenticated INVITE starts a trace at the
    registrar that the router's call span continues (traceparent on the internal SIP),
    with the config-api and media gRPC servers (metadata), the call events (NATS headers,
    received here through ``Bus.subscribe``) and the branch INVITE the registrar delivers
    to the device. Later messages of the phones (ACK, BYE) are traced by the edge on their
    own and linked from the router's span that handles them."""
    calls_before = sum_of(
        telemetry.metrics, "centralino.router.calls", cause="normal", outcome="answered"
    )
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    caller = await tenant.account("caller", "200", direct_media=False)
    await tenant.extension("201")
    _, desk = await _device(
        tenant, suite, tmp_path, "desk", "201", device_answers(100, expect="Ada Lovelace")
    )
    await _call(tenant, suite, tmp_path, caller, caller_through_edge("201", hold_ms=100))
    assert (await desk.wait()).ok
    (ended,) = await tenant.events.ended()
    call_id = ended.call_id

    def call_trace(spans: Sequence[ReadableSpan]) -> list[ReadableSpan] | None:
        calls = [s for s in spans if s.name == "call 201" and call_id_of(s) == call_id]
        if len(calls) != 1 or calls[0].context is None:
            return None
        found = trace_of(spans, calls[0].context.trace_id)
        ended_event = any(s.name.endswith(".call.ended") for s in found)
        return found if ended_event and connected(found) else None

    spans = await telemetry.until("a connected trace of the call", call_trace)
    (call,) = [s for s in spans if s.name == "call 201"]
    assert call.kind is SpanKind.SERVER
    assert (call.attributes or {}).get("centralino.call.cause") == "normal"
    assert (call.attributes or {}).get("centralino.call.outcome") == "answered"
    (root,) = [s for s in spans if s.parent is None]
    assert (root.name, service_of(root), call_id_of(root)) == (
        "SIP INVITE from phone",
        "registrar",
        call_id,
    )
    assert call.parent is not None and root.context is not None
    assert call.parent.span_id == root.context.span_id
    services = {service_of(s) for s in spans} - {None}
    assert services == {"registrar", "router", "config-api", "media"}, services
    names = {s.name for s in spans}
    assert "/centralino.v1.MediaService/Allocate" in names, names
    assert f"nats receive centralino.{tenant.name}.call.created" in names, names
    # the branch INVITE (its own Call-ID) reached the device within the same trace
    to_device = [s for s in spans if s.name == "SIP INVITE to phone" and call_id_of(s) != call_id]
    assert to_device, names
    # every router span of this call is in it, including the steps of later requests
    all_spans = telemetry.spans()
    router_spans = [s for s in all_spans if service_of(s) == "router" and call_id_of(s) == call_id]
    assert {s.context.trace_id for s in router_spans if s.context} == {root.context.trace_id}
    # the caller's BYE: a trace of its own at the edge, linked from the router's step
    (bye,) = [s for s in router_spans if s.name == "SIP BYE"]
    linked = {link.context.span_id for link in bye.links}
    edge_bye = [
        s
        for s in all_spans
        if s.name == "SIP BYE from phone" and s.context and s.context.span_id in linked
    ]
    assert len(edge_bye) == 1 and edge_bye[0].context is not None
    assert edge_bye[0].context.trace_id != root.context.trace_id
    assert (
        sum_of(telemetry.metrics, "centralino.router.calls", cause="normal", outcome="answered")
        == calls_before + 1
    )
    assert {
        "centralino.media.rtp.packets",
        "centralino.media.transcoding.channels",
        "centralino.router.call.duration",
    } <= metric_names(telemetry.metrics)
    # the extensions and accounts created above through the REST API were timed
    created = histogram_count(
        telemetry.metrics,
        "centralino.config_api.request.duration",
        **{
            "http.request.method": "POST",
            "http.route": "/api/v1/tenants/{tenant}/extensions",
            "http.response.status_code": 201,
        },
    )
    assert created >= 2

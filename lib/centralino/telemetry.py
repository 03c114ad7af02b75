"""OpenTelemetry set-up shared by every service.

Exporters follow the standard OTEL_* variables: ``OTEL_TRACES_EXPORTER`` and
``OTEL_METRICS_EXPORTER`` take ``otlp``, ``console`` or ``none`` (the default, so a
laptop run prints no telemetry noise); the OTLP endpoint comes from
``OTEL_EXPORTER_OTLP_ENDPOINT`` as the SDK reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from centralino.settings import SettingsError

_EXPORTERS = ("otlp", "console", "none")


def _choice(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name, "none").strip().lower() or "none"
    if value not in _EXPORTERS:
        raise SettingsError(name, f"expected one of {', '.join(_EXPORTERS)}, got {value!r}")
    return value


def setup_telemetry(
    service: str,
    instance: str,
    environ: Mapping[str, str] | None = None,
    *,
    span_processors: list[SpanProcessor] | None = None,
    metric_readers: list[MetricReader] | None = None,
) -> tuple[TracerProvider, MeterProvider]:
    """Install global tracer and meter providers for this process.

    ``span_processors`` and ``metric_readers`` let a test attach in-memory exporters.
    """
    env = os.environ if environ is None else environ
    resource = Resource.create(
        {"service.name": f"centralino-{service}", "service.instance.id": instance}
    )
    tracer_provider = TracerProvider(resource=resource)
    traces = _choice("OTEL_TRACES_EXPORTER", env)
    if traces == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif traces == "console":
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    for processor in span_processors or []:
        tracer_provider.add_span_processor(processor)
    trace.set_tracer_provider(tracer_provider)

    readers: list[MetricReader] = list(metric_readers or [])
    metrics_exporter = _choice("OTEL_METRICS_EXPORTER", env)
    if metrics_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    elif metrics_exporter == "console":
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider

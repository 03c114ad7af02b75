"""One in-memory trace and metric sink for the whole test session.

OpenTelemetry's global providers can be set once per process, so the first telemetry test
installs them with :func:`centralino.telemetry.setup_telemetry` and the in-memory
exporters; every service started in-process afterwards reports into them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# the router suite's services (config-api, media, router, registrar) and its helpers
from router.conftest import (  # noqa: F401  (fixtures)
    _reap_sipp,
    anchored_router,
    bus,
    config_api,
    router_db,
    tenant,
)
from router.test_suite_e2e import suite  # noqa: F401  (fixture)

from centralino.telemetry import setup_telemetry

T = TypeVar("T")


class Telemetry(SpanProcessor):
    """Finished spans (an in-memory exporter) and metrics, with a way to wait for spans."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        #: ``None`` when another part of the process installed the providers first
        self.metrics: InMemoryMetricReader | None = None
        self._wake: Callable[[], object] | None = None

    def on_end(self, span: ReadableSpan) -> None:
        # runs after the exporter's processor, so the span is already stored
        if self._wake is not None:
            self._wake()

    def spans(self) -> Sequence[ReadableSpan]:
        return self.exporter.get_finished_spans()

    async def until(
        self, what: str, found: Callable[[Sequence[ReadableSpan]], T | None], timeout: float = 10
    ) -> T:
        """Wait until ``found`` returns something for the finished spans."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = asyncio.Event()
                    self._wake = functools.partial(loop.call_soon_threadsafe, changed.set)
                    result = found(self.spans())
                    if result is not None:
                        return result
                    await changed.wait()
        except TimeoutError:
            names = sorted({s.name for s in self.spans()})
            raise AssertionError(f"no {what} within {timeout} s; spans: {names}") from None
        finally:
            self._wake = None


@pytest.fixture(scope="session")
def telemetry() -> Iterator[Telemetry]:
    sink = Telemetry()
    exporting = SimpleSpanProcessor(sink.exporter)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        # someone installed the providers already: join the tracer provider rather than
        # fight it (an SDK meter provider takes no reader after its creation)
        current.add_span_processor(exporting)
        current.add_span_processor(sink)
    else:
        sink.metrics = InMemoryMetricReader()
        env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
        setup_telemetry(
            "tests",
            "telemetry",
            env,
            span_processors=[exporting, sink],
            metric_readers=[sink.metrics],
        )
    yield sink
    # later tests of the session need not pay for keeping spans nobody reads
    exporting.shutdown()

"""The router's metrics (OpenTelemetry metrics API; the exporter is the process's choice).

Instrument names, all under ``centralino.router``:

* ``centralino.router.calls`` (counter): calls ended, by ``cause`` (``normal``, ``busy``,
  ``cancelled``, ``not_found``...) and ``outcome`` (``answered`` or ``failed``).
* ``centralino.router.call.duration`` (histogram, s): from INVITE to the end, same attributes.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("centralino.router")

CALLS = _meter.create_counter(
    "centralino.router.calls", unit="{call}", description="calls ended, by outcome and cause"
)
CALL_DURATION = _meter.create_histogram(
    "centralino.router.call.duration", unit="s", description="call lifetime, INVITE to end"
)


def call_ended(cause: str, answered: bool, seconds: float) -> None:
    attributes = {"cause": cause, "outcome": "answered" if answered else "failed"}
    CALLS.add(1, attributes)
    CALL_DURATION.record(seconds, attributes)

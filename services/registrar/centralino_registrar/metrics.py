"""The registrar's metrics (OpenTelemetry metrics API; the exporter is the process's choice).

Instrument names, all under ``centralino.registrar``:

* ``centralino.registrar.registrations`` (counter): location events, by ``event``
  (``registered``, ``refreshed``, ``unregistered``, ``expired``...).
* ``centralino.registrar.auth.failures`` (counter): failed authentications and probes,
  by ``signal`` (``auth_failure``, ``unknown_user``, ``scanner_agent``...).
* ``centralino.registrar.sources.blocked`` (counter): sources blocked, by ``reason``.
* ``centralino.registrar.requests.dropped`` (counter): requests dropped, by ``why``.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("centralino.registrar")

REGISTRATIONS = _meter.create_counter(
    "centralino.registrar.registrations", unit="{event}", description="location events by kind"
)
AUTH_FAILURES = _meter.create_counter(
    "centralino.registrar.auth.failures",
    unit="{request}",
    description="failed authentications and probes",
)
BLOCKED_SOURCES = _meter.create_counter(
    "centralino.registrar.sources.blocked",
    unit="{source}",
    description="sources blocked by the defence",
)
DROPPED = _meter.create_counter(
    "centralino.registrar.requests.dropped",
    unit="{request}",
    description="requests dropped (rate, block)",
)

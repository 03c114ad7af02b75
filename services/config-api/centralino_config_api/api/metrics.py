"""The config API's metrics (OpenTelemetry metrics API; the exporter is the process's choice).

Instrument names:

* ``centralino.config_api.request.duration`` (histogram, s): REST request latency, by
  ``http.request.method``, ``http.route`` (the route template, e.g.
  ``/api/v1/tenants/{tenant}/extensions``; ``unmatched`` for unknown paths, so scanners
  cannot blow up the cardinality) and ``http.response.status_code``.

The gRPC API is timed by the gRPC instrumentation's own server spans.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import metrics

REQUEST_DURATION = "centralino.config_api.request.duration"

_meter = metrics.get_meter("centralino.config_api")
_duration = _meter.create_histogram(
    REQUEST_DURATION, unit="s", description="REST API request latency"
)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def latency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500  # what the client gets when the handler raises anything but an HTTP error
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _duration.record(
            time.perf_counter() - start,
            {
                "http.request.method": request.method,
                "http.route": _route(request),
                "http.response.status_code": status,
            },
        )

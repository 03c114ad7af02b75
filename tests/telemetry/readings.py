"""Reading the in-memory metric reader: values of the instruments the tests check."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)


def sum_of(reader: InMemoryMetricReader | None, name: str, **attributes: str) -> int:
    """The cumulative value of a counter for the data points matching ``attributes``."""
    if reader is None:
        pytest.skip("the meter provider was installed before this test could add a reader")
    data = reader.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    labels = point.attributes or {}
                    if isinstance(point, NumberDataPoint) and all(
                        labels.get(k) == v for k, v in attributes.items()
                    ):
                        total += int(point.value)
    return total


def histogram_count(reader: InMemoryMetricReader | None, name: str, **attributes: object) -> int:
    """How many values a histogram recorded for the data points matching ``attributes``."""
    if reader is None:
        pytest.skip("the meter provider was installed before this test could add a reader")
    data = reader.get_metrics_data()
    return sum(
        point.count
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
        and all((point.attributes or {}).get(k) == v for k, v in attributes.items())
    )


def metric_names(reader: InMemoryMetricReader | None) -> set[str]:
    data = reader.get_metrics_data() if reader is not None else None
    return {
        m.name
        for r in (data.resource_metrics if data else [])
        for s in r.scope_metrics
        for m in s.metrics
    }

"""The media service's metrics (OpenTelemetry metrics API; the exporter is the process's
choice).

Instrument names, all under ``centralino.media``:

* ``centralino.media.rtp.packets`` (observable counter): RTP packets since start, by
  ``direction`` (``in``, ``out``, ``dropped``), over every stream (audio, video) and leg.
* ``centralino.media.transcoding.channels`` (observable up-down counter): sessions
  transcoding right now.

Both are observed at collection time from the sessions' own counters rather than counted
per packet: the data plane's hot path stays free of metric calls.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from centralino_media.relay import MediaSession
from centralino_media.relay.counters import LegCounters

RTP_PACKETS = "centralino.media.rtp.packets"
TRANSCODING_CHANNELS = "centralino.media.transcoding.channels"

DIRECTIONS = ("in", "out", "dropped")


def _counts(counters: LegCounters) -> tuple[int, int, int]:
    return counters.packets_in, counters.packets_out, counters.dropped


class MediaMetrics:
    """The packet totals of one controller: its live sessions plus those it released."""

    def __init__(self, sessions: Callable[[], Iterable[MediaSession]]) -> None:
        self._sessions = sessions
        self._released = [0, 0, 0]
        _sources.add(self)

    def released(self, session: MediaSession) -> None:
        """Keep a session's packets counted once it is gone."""
        for counters in _leg_counters(session):
            for i, n in enumerate(_counts(counters)):
                self._released[i] += n

    def packets(self) -> tuple[int, int, int]:
        """Packets in, out and dropped since start."""
        totals = list(self._released)
        for session in self._sessions():
            for counters in _leg_counters(session):
                for i, n in enumerate(_counts(counters)):
                    totals[i] += n
        return totals[0], totals[1], totals[2]

    def transcoding(self) -> int:
        return sum(1 for session in self._sessions() if session.transcoding)


def _leg_counters(session: MediaSession) -> Iterator[LegCounters]:
    for bridge in session.bridges.values():
        for endpoint in bridge.endpoints.values():
            yield endpoint.counters


#: every controller of the process (tests run several); gone with their controller
_sources: weakref.WeakSet[MediaMetrics] = weakref.WeakSet()


def _observe_packets(_options: CallbackOptions) -> Iterable[Observation]:
    totals = [0, 0, 0]
    for source in list(_sources):
        for i, n in enumerate(source.packets()):
            totals[i] += n
    return [Observation(n, {"direction": d}) for d, n in zip(DIRECTIONS, totals, strict=True)]


def _observe_transcoding(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(sum(source.transcoding() for source in list(_sources)))]


_meter = metrics.get_meter("centralino.media")
_meter.create_observable_counter(
    RTP_PACKETS, callbacks=[_observe_packets], unit="{packet}", description="RTP packets"
)
_meter.create_observable_up_down_counter(
    TRANSCODING_CHANNELS,
    callbacks=[_observe_transcoding],
    unit="{session}",
    description="sessions transcoding now",
)

"""Reception statistics of one RTP source: RFC 3550 A.1 (sequence), A.3 (loss), A.8 (jitter).

Sans-IO: arrival time is passed in (``now`` in seconds, any monotonic origin).
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino.rtp.rtcp import ReportBlock

#: RFC 3550 A.1: a jump bigger than this is a restart, not loss; late packets within
#: MAX_MISORDER are duplicates or reordering.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
SEQ_MOD = 1 << 16


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    received: int
    expected: int
    lost: int
    fraction_lost: float  # since the previous snapshot, 0..1
    jitter_ms: float


class ReceptionStats:
    """Counters for one SSRC; feed every accepted packet to :meth:`update`."""

    __slots__ = (
        "_bad_seq",
        "_base_seq",
        "_cycles",
        "_expected_prior",
        "_jitter",
        "_max_seq",
        "_received_prior",
        "_started",
        "_transit",
        "clock_rate",
        "received",
    )

    def __init__(self, clock_rate: int) -> None:
        if clock_rate <= 0:
            raise ValueError("clock rate must be positive")
        self.clock_rate = clock_rate
        self.received = 0
        self._started = False
        self._base_seq = 0
        self._max_seq = 0
        self._cycles = 0
        self._bad_seq = SEQ_MOD + 1
        self._expected_prior = 0
        self._received_prior = 0
        self._transit: float | None = None
        self._jitter = 0.0

    def _restart(self, seq: int) -> None:
        self._base_seq = seq
        self._max_seq = seq
        self._cycles = 0
        self._bad_seq = SEQ_MOD + 1
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0

    def update(self, sequence: int, timestamp: int, now: float) -> bool:
        """Count a packet; False when it is too old/duplicate-ish to count (A.1 rules)."""
        if not self._started:
            self._started = True
            self._restart(sequence)
            self._max_seq = sequence
        else:
            delta = (sequence - self._max_seq) % SEQ_MOD
            if delta < MAX_DROPOUT:
                if sequence < self._max_seq:
                    self._cycles += SEQ_MOD
                self._max_seq = sequence
            elif delta <= SEQ_MOD - MAX_MISORDER:
                # A big jump: accept it as a restart only if the next packet follows it.
                if sequence == self._bad_seq:
                    self._restart(sequence)
                else:
                    self._bad_seq = (sequence + 1) % SEQ_MOD
                    return False
            # else: a reordered or duplicate packet within MAX_MISORDER, counted below
        self.received += 1
        transit = now * self.clock_rate - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            self._jitter += (d - self._jitter) / 16.0
        self._transit = transit
        return True

    @property
    def extended_max(self) -> int:
        return self._cycles + self._max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self._base_seq + 1 if self._started else 0

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def jitter(self) -> int:
        """Interarrival jitter in timestamp units, as carried in report blocks."""
        return round(self._jitter)

    @property
    def jitter_ms(self) -> float:
        return 1000.0 * self._jitter / self.clock_rate

    def snapshot(self) -> StatsSnapshot:
        """Totals plus the loss fraction since the previous snapshot (A.3)."""
        expected = self.expected
        interval_expected = expected - self._expected_prior
        interval_received = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = interval_expected - interval_received
        fraction = lost_interval / interval_expected if interval_expected > 0 else 0.0
        return StatsSnapshot(
            received=self.received,
            expected=expected,
            lost=self.lost,
            fraction_lost=max(0.0, fraction),
            jitter_ms=self.jitter_ms,
        )

    def report_block(self, ssrc: int) -> ReportBlock:
        snap = self.snapshot()
        return ReportBlock(
            ssrc=ssrc,
            fraction_lost=min(255, int(snap.fraction_lost * 256)),
            packets_lost=min(self.lost, 0x7FFFFF),
            highest_sequence=self.extended_max,
            jitter=self.jitter,
        )

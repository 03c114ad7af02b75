"""Keeping an outgoing RTP stream continuous while its input changes (RFC 3550 §5.1, §8.2).

A B2BUA relay sends on each leg with its own SSRC. When the source feeding that leg changes
(the far phone restarts its stream after a re-INVITE, or the leg switches between relayed and
transcoded audio) the receiver must still see one stream: sequence numbers go on by one,
the timestamp advances by the elapsed time, and the marker bit flags the new talk-spurt.
"""

from __future__ import annotations

from dataclasses import dataclass

_SEQ_MASK = 0xFFFF
_TS_MASK = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Rewritten:
    sequence_number: int
    timestamp: int
    marker: bool


class StreamRewriter:
    """Maps input (ssrc, seq, ts) to output (seq, ts) for one outgoing leg."""

    __slots__ = (
        "_in_ssrc",
        "_last_now",
        "_last_seq",
        "_last_ts",
        "_seq_offset",
        "_ts_offset",
        "clock_rate",
        "ssrc",
    )

    def __init__(
        self,
        ssrc: int,
        clock_rate: int,
        initial_seq: int,
        initial_ts: int,
        *,
        last_sent_at: float | None = None,
    ) -> None:
        """Start a stream at ``initial_seq``/``initial_ts``, or, with ``last_sent_at``,
        continue one whose last packet had ``initial_seq - 1``/``initial_ts`` at that time."""
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._in_ssrc: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._last_seq = (initial_seq - 1) & _SEQ_MASK
        self._last_ts = initial_ts & _TS_MASK
        self._last_now: float | None = last_sent_at

    def rewrite(self, in_ssrc: int, seq: int, ts: int, marker: bool, now: float) -> Rewritten:
        if in_ssrc != self._in_ssrc:
            advance = 0
            if self._last_now is not None:
                advance = max(1, round(max(0.0, now - self._last_now) * self.clock_rate))
            out_seq = (self._last_seq + 1) & _SEQ_MASK
            out_ts = (self._last_ts + advance) & _TS_MASK
            self._seq_offset = (out_seq - seq) & _SEQ_MASK
            self._ts_offset = (out_ts - ts) & _TS_MASK
            self._in_ssrc = in_ssrc
            marker = True
        out_seq = (seq + self._seq_offset) & _SEQ_MASK
        out_ts = (ts + self._ts_offset) & _TS_MASK
        # Only move "last" forward so a reordered packet does not rewind the continuation point.
        if ((out_seq - self._last_seq) & _SEQ_MASK) < 0x8000:
            self._last_seq = out_seq
            self._last_ts = out_ts
            self._last_now = now
        return Rewritten(out_seq, out_ts, marker)

    def input_sequence(self, out_seq: int) -> int:
        """The input sequence number that became ``out_seq`` (to translate RTCP NACKs)."""
        return (out_seq - self._seq_offset) & _SEQ_MASK


class StreamGenerator:
    """Numbers packets of a stream we produce ourselves (transcoded audio)."""

    __slots__ = ("_next_seq", "_next_ts", "clock_rate", "ssrc")

    def __init__(self, ssrc: int, clock_rate: int, initial_seq: int, initial_ts: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._next_seq = initial_seq & _SEQ_MASK
        self._next_ts = initial_ts & _TS_MASK

    def next(self, samples: int) -> tuple[int, int]:
        """(seq, ts) for a packet carrying ``samples`` clock ticks of media."""
        seq, ts = self._next_seq, self._next_ts
        self._next_seq = (seq + 1) & _SEQ_MASK
        self._next_ts = (ts + samples) & _TS_MASK
        return seq, ts

    def next_sequence(self) -> int:
        """A sequence number for a packet that does not advance time (RFC 4733 events)."""
        seq = self._next_seq
        self._next_seq = (seq + 1) & _SEQ_MASK
        return seq

    def skip(self, samples: int) -> None:
        """Advance time without a packet (silence suppressed, DTX)."""
        self._next_ts = (self._next_ts + samples) & _TS_MASK

    @property
    def next_timestamp(self) -> int:
        return self._next_ts

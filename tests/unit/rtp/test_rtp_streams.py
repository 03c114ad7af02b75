"""Sequence/timestamp continuity across source changes, RFC 3550 A.1/A.3/A.8 statistics."""

from __future__ import annotations

from centralino.rtp import ReceptionStats, StreamGenerator, StreamRewriter


def test_rewriter_keeps_output_continuous_across_ssrc_change() -> None:
    w = StreamRewriter(ssrc=99, clock_rate=8000, initial_seq=1000, initial_ts=5000)
    out = [w.rewrite(1, 40 + i, 123456 + 160 * i, False, i * 0.02) for i in range(3)]
    assert [(o.sequence_number, o.timestamp) for o in out] == [
        (1000, 5000),
        (1001, 5160),
        (1002, 5320),
    ]
    assert out[0].marker and not out[1].marker
    # New source 100 ms later with unrelated numbers: seq +1, ts by elapsed time, marker set.
    o = w.rewrite(2, 60000, 7, False, 0.14)
    assert (o.sequence_number, o.timestamp, o.marker) == (1003, 5320 + 800, True)
    assert w.rewrite(2, 60001, 167, False, 0.16).sequence_number == 1004


def test_rewriter_wraps_and_tolerates_reordering() -> None:
    w = StreamRewriter(ssrc=1, clock_rate=8000, initial_seq=65534, initial_ts=0xFFFFFF00)
    a = w.rewrite(5, 10, 0, False, 0.0)
    b = w.rewrite(5, 12, 320, False, 0.04)
    late = w.rewrite(5, 11, 160, False, 0.05)
    assert (a.sequence_number, b.sequence_number, late.sequence_number) == (65534, 0, 65535)
    assert b.timestamp == (0xFFFFFF00 + 320) & 0xFFFFFFFF
    # The late packet did not rewind the continuation point for a later source change.
    assert w.rewrite(6, 0, 0, False, 0.06).sequence_number == 1


def test_generator() -> None:
    g = StreamGenerator(ssrc=1, clock_rate=48000, initial_seq=65535, initial_ts=10)
    assert g.next(960) == (65535, 10)
    g.skip(960)
    assert g.next(960) == (0, 1930)


def test_stats_loss_and_jitter_constant_delay() -> None:
    s = ReceptionStats(8000)
    for i in range(100):
        if i in (10, 11, 50):
            continue
        assert s.update(i, i * 160, 1.0 + i * 0.02)
    snap = s.snapshot()
    assert (snap.received, snap.expected, snap.lost) == (97, 100, 3)
    assert abs(snap.fraction_lost - 0.03) < 1e-9
    assert snap.jitter_ms < 0.01  # perfectly paced
    assert s.snapshot().fraction_lost == 0.0  # nothing new since the last snapshot


def test_stats_jitter_converges_to_alternating_delay() -> None:
    s = ReceptionStats(8000)
    for i in range(2000):
        s.update(i, i * 160, i * 0.02 + (0.01 if i % 2 else 0.0))
    # |D| is 10 ms every packet, so J converges to 10 ms (RFC 3550 A.8).
    assert abs(s.jitter_ms - 10.0) < 0.1
    block = s.report_block(7)
    assert block.highest_sequence == 1999 and block.jitter == round(s.jitter_ms * 8)


def test_stats_sequence_wrap_and_restart() -> None:
    s = ReceptionStats(8000)
    for i, seq in enumerate([65533, 65534, 65535, 0, 1]):
        s.update(seq, i * 160, i * 0.02)
    assert s.extended_max == 65536 + 1 and s.lost == 0
    # A jump past MAX_DROPOUT is ignored once, then accepted as a restart when it continues.
    assert not s.update(30000, 0, 1.0)
    assert s.update(30001, 160, 1.02)
    assert s.received == 1 and s.expected == 1

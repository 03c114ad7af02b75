"""Transaction timer values (RFC 3261 §17, Table 4).

T1 is the round-trip estimate, T2 the cap on retransmission intervals for non-INVITE
requests and INVITE responses, T4 how long the network may keep a message. Every other
timer derives from them. On reliable transports (TCP, TLS, WS) nothing is retransmitted
and the "wait for stragglers" timers D, I, J and K are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_TIMERS", "TimerConfig"]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    # When an INVITE server transaction sends 100 Trying on its own if the TU has sent
    # no provisional yet (§17.2.1 allows waiting 200 ms so a quick 180 makes it moot).
    trying_delay: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2 or self.t4 <= 0 or self.trying_delay < 0:
            raise ValueError("timers need 0 < T1 <= T2, T4 > 0 and trying_delay >= 0")

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J (unreliable), L and M: 64*T1."""
        return 64 * self.t1

    def timer_d(self, reliable: bool) -> float:
        # "at least 32 seconds" for unreliable transports, 0 for reliable ones.
        return 0.0 if reliable else max(32.0, self.timeout)

    def timer_i(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4

    def timer_j(self, reliable: bool) -> float:
        return 0.0 if reliable else self.timeout

    def timer_k(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4


DEFAULT_TIMERS = TimerConfig()

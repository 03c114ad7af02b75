"""Call admission against the concurrent-call limit and the busy level (LIM-01..05).

Both count the extension's active calls over all its accounts, incoming and outgoing.
The limit refuses a call that would exceed it; the busy level makes the extension busy
for new incoming calls once the count reaches it, so no device is rung (LIM-03/04).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ADMIT = "admit"
    REFUSE = "refuse"  # outgoing call over the limit
    BUSY = "busy"  # incoming call: handled with the Busy cause (OVF-04, LIM-05)


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: Verdict
    reason: str = ""


def admit_outgoing(active_calls: int, call_limit: int) -> Admission:
    """A call placed by the extension: refused when one more would exceed the limit."""
    if call_limit and active_calls + 1 > call_limit:
        return Admission(Verdict.REFUSE, f"concurrent call limit {call_limit} reached")
    return Admission(Verdict.ADMIT)


def admit_incoming(active_calls: int, call_limit: int, busy_level: int) -> Admission:
    """A call to the extension: busy at or above the busy level, or over the limit."""
    if busy_level and active_calls >= busy_level:
        return Admission(Verdict.BUSY, f"busy level {busy_level} reached")
    if call_limit and active_calls + 1 > call_limit:
        return Admission(Verdict.BUSY, f"concurrent call limit {call_limit} reached")
    return Admission(Verdict.ADMIT)

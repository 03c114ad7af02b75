"""What happens when a call to an extension fails (OVF-01..07).

The action depends on the call's origin and the failure cause. Chained overflows (A
overflows to B, B to C...) carry the set of extensions already tried, so a loop ends in a
hang-up instead of ringing forever.
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino_router.fork import HANGUP_STATUS
from centralino_router.policy import Cause, ExtensionPolicy, Origin, TargetKind

#: chained overflows followed at most; a longer chain is treated as a loop
MAX_CHAIN = 8

#: targets whose subsystems exist in this release
AVAILABLE = frozenset(
    {
        TargetKind.HANGUP,
        TargetKind.EXTENSION,
        TargetKind.CUSTOM_SELECTION,
        TargetKind.EXTERNAL_NUMBER,
    }
)


@dataclass(frozen=True, slots=True)
class HangUp:
    status: int
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RingExtension:
    number: str
    visited: frozenset[str]


@dataclass(frozen=True, slots=True)
class DialNumber:
    """Dial ``number`` through the numbering plan on the caller's behalf (custom selection,
    external number)."""

    number: str
    kind: TargetKind


Decision = HangUp | RingExtension | DialNumber


def decide(
    policy: ExtensionPolicy,
    origin: Origin,
    cause: Cause,
    visited: frozenset[str] = frozenset(),
) -> Decision:
    """The overflow decision for a call to ``policy``'s extension that failed with ``cause``."""
    status, reason = HANGUP_STATUS[cause]
    action = policy.overflow_for(origin).action(cause)
    visited = visited | {policy.number}
    if action.kind is TargetKind.HANGUP:
        return HangUp(status, reason)
    if action.kind not in AVAILABLE:
        return HangUp(
            status, reason, f"overflow target {action.kind.value} is not available in this release"
        )
    if action.kind is TargetKind.EXTENSION:
        if action.target in visited or len(visited) >= MAX_CHAIN:
            return HangUp(status, reason, f"overflow loop through {sorted(visited)}")
        return RingExtension(action.target, visited)
    return DialNumber(action.target, action.kind)

"""The outcome of one call forked to every account of an extension (EXT-04, REG-07, OVF-03..05).

Sans-IO: fed branch responses, the caller's CANCEL and time; returns actions for the B2BUA.

Rules (how mixed branch outcomes combine — ADR 0007):
1. The first 2xx wins: that branch is connected and every other branch still pending is
   cancelled with ``Reason: SIP;cause=200;text="Call completed elsewhere"``.
2. While any branch is pending, a failure on another branch changes nothing: a device that
   is still ringing keeps the call alive (a busy desk phone must not stop a ringing softphone).
3. When every branch has failed, the cause is *busy* if any device said so (486 Busy Here,
   600 Busy Everywhere, 603 Decline), otherwise *unavailable* (480, 404, 408/no answer at
   transaction level, 5xx, unreachable flow — OVF-05).
4. No branch at all (no account registered) is *unavailable* at once (OVF-06).
5. The no-answer timeout (OVF-03) cancels every pending branch and the cause is *no answer*,
   whatever failed before.
6. The caller's CANCEL cancels every pending branch; no overflow runs.
7. A 2xx arriving after the fork was decided is answered with ACK+BYE (``HangUpLate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from centralino_router.policy import Cause

COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
CALLER_CANCELLED = 'SIP;cause=487;text="Request terminated"'
NO_ANSWER_REASON = 'SIP;cause=480;text="No answer"'

BUSY_STATUSES = frozenset({486, 600, 603})

#: the status sent to the caller when a cause ends in a plain hang-up
HANGUP_STATUS: dict[Cause, tuple[int, str]] = {
    Cause.BUSY: (486, "Busy Here"),
    Cause.UNAVAILABLE: (480, "Temporarily Unavailable"),
    Cause.NO_ANSWER: (408, "No Answer"),
}


class BranchState(StrEnum):
    CALLING = "calling"
    EARLY = "early"
    ANSWERED = "answered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ForkState(StrEnum):
    RINGING = "ringing"
    CONNECTED = "connected"
    FAILED = "failed"
    ABANDONED = "abandoned"


class ForkError(RuntimeError):
    """The B2BUA fed the fork something impossible (our bug, not the peer's)."""


@dataclass(frozen=True, slots=True)
class Ringing:
    """Relay the first provisional response with a To-tag (180/183) to the caller."""

    branch: str
    status: int


@dataclass(frozen=True, slots=True)
class CancelBranches:
    branches: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Connect:
    branch: str


@dataclass(frozen=True, slots=True)
class Failed:
    """Every branch failed or the timeout ran out: run the overflow for ``cause``."""

    cause: Cause
    statuses: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HangUpLate:
    """A branch answered after the fork was decided: ACK it and send BYE."""

    branch: str


Action = Ringing | CancelBranches | Connect | Failed | HangUpLate

_PENDING = (BranchState.CALLING, BranchState.EARLY)


class Fork:
    def __init__(self, branches: Iterable[str], now: float, timeout: float = 0.0) -> None:
        self.branches: dict[str, BranchState] = dict.fromkeys(branches, BranchState.CALLING)
        self.statuses: dict[str, int] = {}
        self.state = ForkState.RINGING
        self.deadline = now + timeout if timeout > 0 else None
        self.winner: str | None = None
        self._ringing_relayed = False

    def start(self) -> list[Action]:
        if not self.branches:
            self.state = ForkState.FAILED
            return [Failed(Cause.UNAVAILABLE, ())]
        return []

    def _check(self, branch: str) -> None:
        if branch not in self.branches:
            raise ForkError(f"unknown branch {branch!r}")

    def _pending(self, except_branch: str | None = None) -> tuple[str, ...]:
        return tuple(b for b, s in self.branches.items() if s in _PENDING and b != except_branch)

    def provisional(self, branch: str, status: int) -> list[Action]:
        self._check(branch)
        if self.state is not ForkState.RINGING or self.branches[branch] not in _PENDING:
            return []
        if status == 100:
            return []
        self.branches[branch] = BranchState.EARLY
        if self._ringing_relayed and status == 180:
            return []
        self._ringing_relayed = True
        return [Ringing(branch, status)]

    def final(self, branch: str, status: int) -> list[Action]:
        self._check(branch)
        if 200 <= status < 300:
            if self.state is not ForkState.RINGING:
                return [] if branch == self.winner else [HangUpLate(branch)]
            self.branches[branch] = BranchState.ANSWERED
            self.state = ForkState.CONNECTED
            self.winner = branch
            actions: list[Action] = [Connect(branch)]
            others = self._pending()
            for b in others:
                self.branches[b] = BranchState.CANCELLED
            if others:
                actions.insert(0, CancelBranches(others, COMPLETED_ELSEWHERE))
            return actions
        if status < 300:
            raise ForkError(f"final() needs a final status, got {status}")
        if self.branches[branch] in _PENDING:
            self.branches[branch] = BranchState.FAILED
            self.statuses[branch] = status
        if self.state is not ForkState.RINGING or self._pending():
            return []
        self.state = ForkState.FAILED
        busy = any(s in BUSY_STATUSES for s in self.statuses.values())
        cause = Cause.BUSY if busy else Cause.UNAVAILABLE
        return [Failed(cause, tuple(self.statuses.values()))]

    def caller_cancelled(self) -> list[Action]:
        if self.state is not ForkState.RINGING:
            return []
        self.state = ForkState.ABANDONED
        pending = self._pending()
        for b in pending:
            self.branches[b] = BranchState.CANCELLED
        return [CancelBranches(pending, CALLER_CANCELLED)] if pending else []

    def get_timer(self) -> float | None:
        return self.deadline if self.state is ForkState.RINGING else None

    def handle_timer(self, now: float) -> list[Action]:
        if self.state is not ForkState.RINGING or self.deadline is None or now < self.deadline:
            return []
        self.state = ForkState.FAILED
        pending = self._pending()
        for b in pending:
            self.branches[b] = BranchState.CANCELLED
        actions: list[Action] = []
        if pending:
            actions.append(CancelBranches(pending, NO_ANSWER_REASON))
        actions.append(Failed(Cause.NO_ANSWER, tuple(self.statuses.values())))
        return actions

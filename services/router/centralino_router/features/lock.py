"""The electronic lock of an extension as a pure state machine (LOCK-01..10, COS-01..03).

Every function takes the extension's lock settings, the current state and ``now``
(seconds, any monotonic-enough clock shared by the replicas: the store uses wall time)
and returns the new state plus what happened. The state is plain data so that
:mod:`.lock_store` can share it between router replicas.

Unit decision (LOCK-08): the unlock duration is in **seconds**, as the manual's field
label says; see ADR 0008.

PIN throttling (EXT-12, password mode): after ``FREE_FAILURES`` consecutive wrong PINs
every further attempt is refused without being checked for ``BASE_BLOCK_SECONDS * 2**k``
seconds (k = failures beyond the free ones, capped at ``MAX_BLOCK_SECONDS``). A correct
PIN resets the count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

FREE_FAILURES = 3
BASE_BLOCK_SECONDS = 30.0
MAX_BLOCK_SECONDS = 3600.0


class LockError(ValueError):
    """Lock settings or a stored lock state are malformed."""


class UnlockMode(StrEnum):
    """LOCK-01."""

    OPEN = "open"
    CODE = "code"
    PASSWORD = "password"


class UnlockPolicy(StrEnum):
    """LOCK-05."""

    PER_CALL = "per_call"
    AUTO_RELOCK = "auto_relock"
    UNTIL_RELOCKED = "until_relocked"


class ClassChoice(StrEnum):
    """Which of the extension's two outbound routing classes applies (LOCK-10)."""

    STANDARD = "standard"
    RESTRICTED = "restricted"


@dataclass(frozen=True, slots=True)
class LockSettings:
    mode: UnlockMode = UnlockMode.OPEN
    policy: UnlockPolicy = UnlockPolicy.UNTIL_RELOCKED
    duration_seconds: float = 0.0  # only for AUTO_RELOCK (LOCK-08)

    def __post_init__(self) -> None:
        if self.policy is UnlockPolicy.AUTO_RELOCK and self.duration_seconds <= 0:
            raise LockError("auto_relock needs a positive unlock duration in seconds")


@dataclass(frozen=True, slots=True)
class LockState:
    unlocked: bool = False
    unlocked_at: float = 0.0
    failures: int = 0
    blocked_until: float = 0.0

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockState:
        try:
            doc = json.loads(raw)
            state = cls(
                unlocked=bool(doc["unlocked"]),
                unlocked_at=float(doc["unlocked_at"]),
                failures=int(doc["failures"]),
                blocked_until=float(doc["blocked_until"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise LockError(f"stored lock state is malformed: {exc}") from exc
        return state


class Result(StrEnum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    ALWAYS_OPEN = "always_open"  # lock/unlock codes are no-ops in open mode (LOCK-02)
    PIN_REQUIRED = "pin_required"  # LOCK-04: the unlock code alone does not unlock
    WRONG_PIN = "wrong_pin"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    retry_after: float = 0.0  # seconds, for THROTTLED

    @property
    def refused(self) -> bool:
        return self.result in {
            Result.PIN_REQUIRED,
            Result.WRONG_PIN,
            Result.THROTTLED,
        }


def current(settings: LockSettings, state: LockState, now: float) -> LockState:
    """The state with the auto-relock applied (LOCK-07)."""
    if (
        state.unlocked
        and settings.policy is UnlockPolicy.AUTO_RELOCK
        and now >= state.unlocked_at + settings.duration_seconds
    ):
        return replace(state, unlocked=False)
    return state


def is_unlocked(settings: LockSettings, state: LockState, now: float) -> bool:
    if settings.mode is UnlockMode.OPEN:
        return True  # LOCK-02
    return current(settings, state, now).unlocked


def class_for(settings: LockSettings, state: LockState, now: float) -> ClassChoice:
    """COS-01..03, LOCK-10: standard while unlocked, restricted while locked."""
    if is_unlocked(settings, state, now):
        return ClassChoice.STANDARD
    return ClassChoice.RESTRICTED


def lock(settings: LockSettings, state: LockState, now: float) -> tuple[LockState, Outcome]:
    """The lock service code was dialled."""
    if settings.mode is UnlockMode.OPEN:
        return state, Outcome(Result.ALWAYS_OPEN)
    return replace(state, unlocked=False), Outcome(Result.LOCKED)


def pin_checkable(state: LockState, now: float) -> bool:
    """Whether a PIN dialled now is worth verifying: while throttled it is refused unread."""
    return now >= state.blocked_until


def unlock(
    settings: LockSettings,
    state: LockState,
    now: float,
    pin: str | None = None,
    *,
    pin_valid: bool = False,
) -> tuple[LockState, Outcome]:
    """The unlock service code was dialled, with the PIN that followed it if any.

    The services PIN never leaves config-api (EXT-12): the caller verifies ``pin`` there
    and passes the verdict as ``pin_valid``; an extension without a PIN never verifies.
    """
    if settings.mode is UnlockMode.OPEN:
        return state, Outcome(Result.ALWAYS_OPEN)
    if settings.mode is UnlockMode.PASSWORD:
        if not pin_checkable(state, now):
            return state, Outcome(Result.THROTTLED, state.blocked_until - now)
        if not pin:
            return state, Outcome(Result.PIN_REQUIRED)
        if not pin_valid:
            return _failed(state, now)
    opened = LockState(unlocked=True, unlocked_at=now, failures=0, blocked_until=0.0)
    return opened, Outcome(Result.UNLOCKED)


def _failed(state: LockState, now: float) -> tuple[LockState, Outcome]:
    failures = state.failures + 1
    if failures < FREE_FAILURES:
        return replace(state, failures=failures), Outcome(Result.WRONG_PIN)
    block = min(BASE_BLOCK_SECONDS * 2 ** (failures - FREE_FAILURES), MAX_BLOCK_SECONDS)
    return replace(state, failures=failures, blocked_until=now + block), Outcome(Result.WRONG_PIN)


def call_placed(
    settings: LockSettings, state: LockState, now: float
) -> tuple[LockState, ClassChoice]:
    """An outgoing call starts: pick its class and spend a per-call unlock (LOCK-06)."""
    choice = class_for(settings, state, now)
    state = current(settings, state, now)
    if settings.mode is not UnlockMode.OPEN and settings.policy is UnlockPolicy.PER_CALL:
        state = replace(state, unlocked=False)
    return state, choice

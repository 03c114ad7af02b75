"""Electronic lock state machine (LOCK-01..10, COS-01..03, EXT-12)."""

from __future__ import annotations

import pytest

from centralino_router.features.lock import (
    BASE_BLOCK_SECONDS,
    FREE_FAILURES,
    ClassChoice,
    LockError,
    LockSettings,
    LockState,
    Result,
    UnlockMode,
    UnlockPolicy,
    call_placed,
    class_for,
    lock,
    pin_checkable,
    unlock,
)

LOCKED = LockState()


def test_modes_and_policies_are_exactly_the_manuals() -> None:
    """LOCK-01, LOCK-05."""
    assert [m.value for m in UnlockMode] == ["open", "code", "password"]
    assert [p.value for p in UnlockPolicy] == ["per_call", "auto_relock", "until_relocked"]


@pytest.mark.parametrize("policy", list(UnlockPolicy))
def test_open_mode_always_standard_class(policy: UnlockPolicy) -> None:
    """LOCK-02, COS-03: open never uses the restricted class, lock code is a no-op."""
    cfg = LockSettings(UnlockMode.OPEN, policy, duration_seconds=5)
    state, outcome = lock(cfg, LOCKED, 0.0)
    assert outcome.result is Result.ALWAYS_OPEN
    for now in (0.0, 10.0, 1e6):
        state, choice = call_placed(cfg, state, now)
        assert choice is ClassChoice.STANDARD


def test_code_mode_unlocks_without_pin_and_selects_class() -> None:
    """LOCK-03, LOCK-10, COS-01, COS-02."""
    cfg = LockSettings(UnlockMode.CODE, UnlockPolicy.UNTIL_RELOCKED)
    assert class_for(cfg, LOCKED, 0.0) is ClassChoice.RESTRICTED
    state, outcome = unlock(cfg, LOCKED, 1.0)
    assert outcome.result is Result.UNLOCKED
    assert class_for(cfg, state, 2.0) is ClassChoice.STANDARD
    state, outcome = lock(cfg, state, 3.0)
    assert outcome.result is Result.LOCKED
    assert class_for(cfg, state, 4.0) is ClassChoice.RESTRICTED


def test_password_mode_needs_the_services_pin() -> None:
    """LOCK-04, EXT-12: the unlock code alone does not unlock."""
    cfg = LockSettings(UnlockMode.PASSWORD, UnlockPolicy.UNTIL_RELOCKED)
    state, outcome = unlock(cfg, LOCKED, 0.0)
    assert outcome.result is Result.PIN_REQUIRED and outcome.refused
    assert not state.unlocked
    state, outcome = unlock(cfg, state, 0.0, pin="0000", pin_valid=False)
    assert outcome.result is Result.WRONG_PIN and not state.unlocked
    state, outcome = unlock(cfg, state, 0.0, pin="4711", pin_valid=True)
    assert outcome.result is Result.UNLOCKED and state.unlocked and state.failures == 0


def test_wrong_pins_are_throttled_exponentially() -> None:
    cfg = LockSettings(UnlockMode.PASSWORD, UnlockPolicy.UNTIL_RELOCKED)
    state = LOCKED
    for _ in range(FREE_FAILURES):
        state, outcome = unlock(cfg, state, 100.0, pin="1")
        assert outcome.result is Result.WRONG_PIN
    assert state.blocked_until == 100.0 + BASE_BLOCK_SECONDS
    # even the right PIN is refused while blocked
    assert not pin_checkable(state, 110.0)
    blocked, outcome = unlock(cfg, state, 110.0, pin="4711", pin_valid=True)
    assert outcome.result is Result.THROTTLED
    assert outcome.retry_after == pytest.approx(BASE_BLOCK_SECONDS - 10.0)
    assert not blocked.unlocked
    later = 100.0 + BASE_BLOCK_SECONDS
    state, outcome = unlock(cfg, state, later, pin="2")
    assert state.blocked_until == later + 2 * BASE_BLOCK_SECONDS
    state, outcome = unlock(cfg, state, later + 2 * BASE_BLOCK_SECONDS, pin="4711", pin_valid=True)
    assert outcome.result is Result.UNLOCKED and state.failures == 0


def test_per_call_policy_one_unlock_one_call() -> None:
    """LOCK-06."""
    cfg = LockSettings(UnlockMode.CODE, UnlockPolicy.PER_CALL)
    state, _ = unlock(cfg, LOCKED, 0.0)
    state, first = call_placed(cfg, state, 1.0)
    state, second = call_placed(cfg, state, 2.0)
    assert (first, second) == (ClassChoice.STANDARD, ClassChoice.RESTRICTED)


def test_auto_relock_after_duration_in_seconds() -> None:
    """LOCK-07, LOCK-08: the duration is in seconds."""
    cfg = LockSettings(UnlockMode.CODE, UnlockPolicy.AUTO_RELOCK, duration_seconds=90)
    state, _ = unlock(cfg, LOCKED, 1000.0)
    state, choice = call_placed(cfg, state, 1089.9)
    assert choice is ClassChoice.STANDARD and state.unlocked
    assert class_for(cfg, state, 1090.0) is ClassChoice.RESTRICTED


def test_auto_relock_needs_positive_duration() -> None:
    with pytest.raises(LockError):
        LockSettings(UnlockMode.CODE, UnlockPolicy.AUTO_RELOCK, duration_seconds=0)


def test_until_relocked_stays_unlocked() -> None:
    """LOCK-09."""
    cfg = LockSettings(UnlockMode.CODE, UnlockPolicy.UNTIL_RELOCKED)
    state, _ = unlock(cfg, LOCKED, 0.0)
    for now in (1.0, 3600.0, 86400.0 * 30):
        state, choice = call_placed(cfg, state, now)
        assert choice is ClassChoice.STANDARD
    state, _ = lock(cfg, state, 1e7)
    assert class_for(cfg, state, 1e7) is ClassChoice.RESTRICTED


def test_state_round_trips_and_rejects_garbage() -> None:
    state = LockState(unlocked=True, unlocked_at=12.5, failures=2, blocked_until=40.0)
    assert LockState.from_bytes(state.to_bytes()) == state
    for garbage in (b"", b"{", b"[]", b'{"unlocked": true}', b"\xff"):
        with pytest.raises(LockError):
            LockState.from_bytes(garbage)

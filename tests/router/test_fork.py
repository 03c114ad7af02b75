"""How a call forked to every account of an extension ends (EXT-04, REG-07, OVF-03..06)."""

from __future__ import annotations

import pytest

from centralino_router.fork import (
    CALLER_CANCELLED,
    COMPLETED_ELSEWHERE,
    CancelBranches,
    Connect,
    Failed,
    Fork,
    ForkError,
    ForkState,
    HangUpLate,
    Ringing,
)
from centralino_router.policy import Cause


def test_first_answer_wins_and_the_others_are_cancelled_as_completed_elsewhere() -> None:
    """EXT-04: every account rings; the first 2xx wins, the rest get CANCEL with Reason."""
    fork = Fork(["desk", "soft", "mobile"], now=0)
    assert fork.start() == []
    assert fork.provisional("desk", 180) == [Ringing("desk", 180)]
    assert fork.provisional("soft", 180) == []  # one 180 to the caller is enough
    assert fork.final("soft", 200) == [
        CancelBranches(("desk", "mobile"), COMPLETED_ELSEWHERE),
        Connect("soft"),
    ]
    assert fork.state is ForkState.CONNECTED
    assert fork.final("desk", 200) == [HangUpLate("desk")]  # crossed the CANCEL
    assert fork.final("soft", 200) == []  # retransmitted 2xx of the winner


def test_early_media_183_is_relayed_even_after_a_180() -> None:
    fork = Fork(["a", "b"], now=0)
    assert fork.provisional("a", 180) == [Ringing("a", 180)]
    assert fork.provisional("b", 183) == [Ringing("b", 183)]
    assert fork.provisional("a", 100) == []


def test_a_busy_device_does_not_stop_a_ringing_one() -> None:
    fork = Fork(["desk", "soft"], now=0)
    fork.provisional("soft", 180)
    assert fork.final("desk", 486) == []
    assert fork.final("soft", 200) == [Connect("soft")]


@pytest.mark.parametrize(
    "statuses,cause",
    [
        ((486, 480), Cause.BUSY),  # OVF-04: a device answered 486, nobody else rings
        ((603,), Cause.BUSY),
        ((600, 404), Cause.BUSY),
        ((480, 480), Cause.UNAVAILABLE),  # OVF-05
        ((408, 503), Cause.UNAVAILABLE),  # unreachable at IP level / no response
        ((404,), Cause.UNAVAILABLE),
    ],
)
def test_all_branches_failed_combines_into_one_cause(
    statuses: tuple[int, ...], cause: Cause
) -> None:
    names = [f"b{i}" for i in range(len(statuses))]
    fork = Fork(names, now=0)
    actions = []
    for name, status in zip(names, statuses, strict=True):
        actions = fork.final(name, status)
    assert actions == [Failed(cause, statuses)]
    assert fork.state is ForkState.FAILED


def test_no_registered_account_is_unavailable_at_once() -> None:
    """OVF-06 / REG-05: nothing to ring means the Unavailable cause."""
    fork = Fork([], now=0)
    assert fork.start() == [Failed(Cause.UNAVAILABLE, ())]


def test_no_answer_timeout_cancels_the_pending_branches() -> None:
    """OVF-03: the timeout makes the call unanswered whatever failed before."""
    fork = Fork(["a", "b", "c"], now=100.0, timeout=20)
    fork.final("a", 486)
    assert fork.get_timer() == 120.0
    assert fork.handle_timer(119.9) == []
    actions = fork.handle_timer(120.0)
    assert isinstance(actions[0], CancelBranches) and actions[0].branches == ("b", "c")
    assert actions[1] == Failed(Cause.NO_ANSWER, (486,))
    assert fork.get_timer() is None


def test_zero_timeout_rings_until_the_caller_gives_up() -> None:
    fork = Fork(["a"], now=0, timeout=0)
    assert fork.get_timer() is None
    assert fork.caller_cancelled() == [CancelBranches(("a",), CALLER_CANCELLED)]
    assert fork.state is ForkState.ABANDONED
    assert fork.final("a", 487) == []  # no overflow after the caller left


def test_unknown_branch_and_provisional_as_final_are_our_bugs() -> None:
    fork = Fork(["a"], now=0)
    with pytest.raises(ForkError):
        fork.final("zz", 486)
    with pytest.raises(ForkError):
        fork.final("a", 180)

"""Limits, busy level and overflow decisions (LIM-01..05, OVF-01..07)."""

from __future__ import annotations

import pytest

from centralino_router.admission import Verdict, admit_incoming, admit_outgoing
from centralino_router.overflow import DialNumber, HangUp, RingExtension, decide
from centralino_router.policy import (
    Cause,
    ExtensionPolicy,
    Origin,
    PolicyError,
    TargetKind,
    parse_overflow,
)


@pytest.mark.parametrize(
    "active,limit,verdict",
    [(0, 0, Verdict.ADMIT), (50, 0, Verdict.ADMIT), (1, 2, Verdict.ADMIT), (2, 2, Verdict.REFUSE)],
)
def test_outgoing_calls_respect_the_concurrent_limit(
    active: int, limit: int, verdict: Verdict
) -> None:
    """LIM-01: 0 = no limit; a call that would exceed the limit is not admitted."""
    assert admit_outgoing(active, limit).verdict is verdict


def test_limit_of_one_refuses_the_consultation_leg_of_an_attended_transfer() -> None:
    """LIM-02: the held call still counts, so the consultation call exceeds the limit."""
    assert admit_outgoing(active_calls=1, call_limit=1).verdict is Verdict.REFUSE


@pytest.mark.parametrize(
    "active,limit,busy,verdict",
    [
        (0, 0, 0, Verdict.ADMIT),
        (0, 0, 1, Verdict.ADMIT),
        (1, 0, 1, Verdict.BUSY),  # LIM-04: busy level 1 suppresses call waiting
        (2, 0, 3, Verdict.ADMIT),
        (3, 0, 3, Verdict.BUSY),  # LIM-03: reaching the busy level
        (2, 2, 0, Verdict.BUSY),  # LIM-01: incoming over the limit is busy
    ],
)
def test_incoming_calls_are_busy_at_the_busy_level(
    active: int, limit: int, busy: int, verdict: Verdict
) -> None:
    assert admit_incoming(active, limit, busy).verdict is verdict


def _policy(doc: dict[str, object], number: str = "201") -> ExtensionPolicy:
    return ExtensionPolicy(tenant="t", number=number, overflow=parse_overflow(doc))


def test_action_depends_on_origin_and_cause() -> None:
    """OVF-07: a busy call from outside and from an extension go to different targets."""
    policy = _policy(
        {
            "internal": {"busy": {"type": "extension", "target": "202"}},
            "external": {"busy": {"type": "external_number", "target": "+390001"}},
        }
    )
    assert decide(policy, Origin.INTERNAL, Cause.BUSY) == RingExtension("202", frozenset({"201"}))
    assert decide(policy, Origin.EXTERNAL, Cause.BUSY) == DialNumber(
        "+390001", TargetKind.EXTERNAL_NUMBER
    )
    assert decide(policy, Origin.TRANSFER, Cause.BUSY) == HangUp(486, "Busy Here")


@pytest.mark.parametrize(
    "cause,status", [(Cause.BUSY, 486), (Cause.UNAVAILABLE, 480), (Cause.NO_ANSWER, 408)]
)
def test_hang_up_uses_a_status_matching_the_cause(cause: Cause, status: int) -> None:
    """LIM-03: 486 Busy Here when no overflow applies."""
    assert decide(_policy({}), Origin.INTERNAL, cause).status == status  # type: ignore[union-attr]


def test_chained_overflow_loops_end_in_a_hang_up() -> None:
    a = _policy({"internal": {"no_answer": {"type": "extension", "target": "202"}}}, "201")
    b = _policy({"internal": {"no_answer": {"type": "extension", "target": "201"}}}, "202")
    first = decide(a, Origin.INTERNAL, Cause.NO_ANSWER)
    assert first == RingExtension("202", frozenset({"201"}))
    assert isinstance(first, RingExtension)
    second = decide(b, Origin.INTERNAL, Cause.NO_ANSWER, first.visited)
    assert isinstance(second, HangUp) and "loop" in second.detail and second.status == 408


@pytest.mark.parametrize(
    "kind", ["group", "queue", "time_control", "ivr", "voicemail", "conference", "ask_selection"]
)
def test_targets_of_later_subsystems_hang_up_explicitly(kind: str) -> None:
    policy = _policy({"external": {"unavailable": {"type": kind, "target": "9"}}})
    result = decide(policy, Origin.EXTERNAL, Cause.UNAVAILABLE)
    assert isinstance(result, HangUp)
    assert result.status == 480 and f"{kind} is not available" in result.detail


@pytest.mark.parametrize(
    "doc,field",
    [
        ({"sideways": {}}, "overflow.sideways"),
        ({"internal": {"busy": {"type": "teleport"}}}, "overflow.internal.busy.type"),
        ({"internal": {"busy": {"type": "extension"}}}, "overflow.internal.busy.target"),
        ({"internal": {"timeout": -5}}, "overflow.internal.timeout"),
        ({"internal": "hangup"}, "overflow.internal"),
    ],
)
def test_malformed_overflow_names_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_overflow(doc)
    assert err.value.field_path == field

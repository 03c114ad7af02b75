"""Group and directed pickup (PICK-01..03)."""

from __future__ import annotations

import pytest

from centralino_router.features.pickup import (
    RingingCall,
    may_pick_up,
    select_directed_pickup,
    select_group_pickup,
)


@pytest.mark.parametrize(
    ("authorised", "members", "allowed"),
    [
        ({"sales"}, {"sales"}, True),  # PICK-01/02
        ({"sales", "ops"}, {"ops", "hr"}, True),
        ({"sales"}, {"ops"}, False),  # PICK-03
        (set(), {"ops"}, False),  # membership alone grants nothing (PICK-03)
        ({"ops"}, set(), False),
    ],
)
def test_may_pick_up(authorised: set[str], members: set[str], allowed: bool) -> None:
    assert may_pick_up(authorised, members) is allowed


RINGING = [
    RingingCall("c-new", "201", frozenset({"sales"}), ringing_since=30.0),
    RingingCall("c-old", "202", frozenset({"sales"}), ringing_since=10.0),
    RingingCall("c-oldest-ops", "203", frozenset({"ops"}), ringing_since=5.0),
    RingingCall("c-self", "100", frozenset({"sales"}), ringing_since=1.0),
]


def test_group_pickup_takes_oldest_permitted_call() -> None:
    picked = select_group_pickup("100", {"sales"}, RINGING)
    assert picked is not None and picked.call_id == "c-old"


def test_group_pickup_refused_without_shared_group() -> None:
    assert select_group_pickup("100", {"hr"}, RINGING) is None


def test_directed_pickup_follows_same_rule() -> None:
    picked = select_directed_pickup({"ops"}, "203", RINGING)
    assert picked is not None and picked.call_id == "c-oldest-ops"
    assert select_directed_pickup({"sales"}, "203", RINGING) is None  # PICK-03
    assert select_directed_pickup({"sales"}, "299", RINGING) is None

"""Call pickup decisions (PICK-01..03).

A picker may take a call ringing at a target when the picker's *pickup authorisation*
groups and the target's *member of* groups intersect; membership alone grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def may_pick_up(
    picker_authorised_groups: Iterable[str], target_member_groups: Iterable[str]
) -> bool:
    """PICK-01/02 allow when the two sets share a group; PICK-03 refuses otherwise."""
    return not set(picker_authorised_groups).isdisjoint(target_member_groups)


@dataclass(frozen=True, slots=True)
class RingingCall:
    call_id: str
    extension: str  # the extension the call is ringing at
    member_groups: frozenset[str]  # that extension's "member of groups"
    ringing_since: float


def select_group_pickup(
    picker_extension: str,
    picker_authorised_groups: Iterable[str],
    ringing: Sequence[RingingCall],
) -> RingingCall | None:
    """The oldest ringing call the picker may take, never one ringing at the picker."""
    groups = frozenset(picker_authorised_groups)
    permitted = [
        call
        for call in ringing
        if call.extension != picker_extension and may_pick_up(groups, call.member_groups)
    ]
    return min(permitted, key=lambda call: (call.ringing_since, call.call_id), default=None)


def select_directed_pickup(
    picker_authorised_groups: Iterable[str],
    target_extension: str,
    ringing: Sequence[RingingCall],
) -> RingingCall | None:
    """The oldest call ringing at ``target_extension``, if the group rule permits it."""
    groups = frozenset(picker_authorised_groups)
    candidates = [
        call
        for call in ringing
        if call.extension == target_extension and may_pick_up(groups, call.member_groups)
    ]
    return min(candidates, key=lambda call: (call.ringing_since, call.call_id), default=None)

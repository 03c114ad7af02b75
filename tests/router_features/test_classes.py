"""Outbound routing classes: pattern syntax and first-match allow/deny (COS-01, COS-02)."""

from __future__ import annotations

import pytest

from centralino.v1 import config_pb2
from centralino_router.features.classes import (
    Allowed,
    Denied,
    PatternError,
    RoutingClass,
    Rule,
    Verdict,
    compile_pattern,
    route,
)
from centralino_router.policy import PolicyError
from centralino_router.routing import routing_class


@pytest.mark.parametrize(
    ("pattern", "number", "matches"),
    [
        ("112", "112", True),
        ("112", "1120", False),
        ("0X", "05", True),
        ("0X", "0", False),
        ("0X", "0a", False),
        ("NXX", "212", True),
        ("NXX", "112", False),
        ("ZXX", "112", True),
        ("ZXX", "012", False),
        ("00.", "0044", True),
        ("00.", "00", False),
        ("00!", "00", True),
        ("00!", "001", True),
        ("+39.", "+39061234", True),
        ("+39.", "39061234", False),
        ("[1-3,7]X", "25", True),
        ("[1-3,7]X", "75", True),
        ("[1-3,7]X", "45", False),
        ("[13]", "3", True),
        ("*8", "*8", True),
        ("#X", "#1", True),
    ],
)
def test_pattern_syntax(pattern: str, number: str, matches: bool) -> None:
    assert bool(compile_pattern(pattern).match(number)) is matches


@pytest.mark.parametrize("bad", ["", "0Y", "[12", "[]", "[a-b]", "[9-1]", ".", "1.2", "3+"])
def test_bad_patterns_are_rejected(bad: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(bad)


OFFICE = routing_class(
    config_pb2.RoutingClass(
        name="office",
        rules=[
            config_pb2.RoutingRule(pattern="112", allow=True, trunk_id="emergency"),
            config_pb2.RoutingRule(pattern="00.", allow=False),
            config_pb2.RoutingRule(pattern="+.", allow=False),
            config_pb2.RoutingRule(pattern="0[3-9].", allow=False),
            config_pb2.RoutingRule(pattern="0nx.", allow=True, trunk_id="telco"),  # any case
        ],
    )
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("112", Allowed("emergency", 0)),
        ("00441234", Denied(1, "class office: rule 1 (00.) denies")),
        ("+441234", Denied(2, "class office: rule 2 (+.) denies")),
        ("0312345", Denied(3, "class office: rule 3 (0[3-9].) denies")),
        ("0212345", Allowed("telco", 4)),
        ("1234", Denied(-1, "class office: no rule matches (default deny)")),
        ("02", Denied(-1, "class office: no rule matches (default deny)")),
        ("12ab", Denied(-1, "'12ab' is not a diallable number")),
        ("", Denied(-1, "'' is not a diallable number")),
    ],
)
def test_route_first_match_wins_and_default_deny(number: str, expected: Allowed | Denied) -> None:
    assert route(number, OFFICE) == expected


def test_empty_class_denies_everything() -> None:
    assert isinstance(route("112", RoutingClass("none", ())), Denied)


def test_a_bad_stored_rule_names_its_class() -> None:
    bad = config_pb2.RoutingClass(name="c", rules=[config_pb2.RoutingRule(pattern="Q")])
    with pytest.raises(PolicyError, match="routing class c"):
        routing_class(bad)


def test_allow_rule_needs_trunk() -> None:
    with pytest.raises(PatternError):
        Rule("X.", Verdict.ALLOW)

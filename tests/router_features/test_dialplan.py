"""Dialled-string classification with the numbering plan's service codes."""

from __future__ import annotations

import pytest

from centralino_router.features.dialplan import (
    DialPlanError,
    ExternalCall,
    InternalCall,
    NumberingPlan,
    Service,
    ServiceCall,
    ServiceCodes,
    classify,
)

PLAN = NumberingPlan(
    ServiceCodes(lock="*50", unlock="*51", pickup="*8", directed_pickup="*8"),
    country_code="39",
)
EXTENSIONS = {"100", "201", "8"}


@pytest.mark.parametrize(
    ("dialled", "expected"),
    [
        ("*50", ServiceCall(Service.LOCK)),
        ("*51", ServiceCall(Service.UNLOCK)),  # LOCK-03 (code) / LOCK-04 (asks for PIN)
        ("*514711", ServiceCall(Service.UNLOCK, "4711")),
        ("*51*4711", ServiceCall(Service.UNLOCK, "4711")),
        ("*8", ServiceCall(Service.PICKUP)),
        ("*8201", ServiceCall(Service.DIRECTED_PICKUP, "201")),
        ("*8#201", ServiceCall(Service.DIRECTED_PICKUP, "201")),
        ("100", InternalCall("100")),
        ("8", InternalCall("8")),
        ("0612345678", ExternalCall("0612345678", "+39612345678")),
        ("0044201234", ExternalCall("0044201234", "+44201234")),
        ("+44201234", ExternalCall("+44201234", "+44201234")),
        ("112", ExternalCall("112", None)),
        ("*99", ExternalCall("*99", None)),
    ],
)
def test_classify(dialled: str, expected: object) -> None:
    assert classify(dialled, PLAN, EXTENSIONS.__contains__) == expected


def test_codes_are_configurable_and_longest_wins() -> None:
    plan = NumberingPlan(ServiceCodes(lock="#1", unlock="#2", pickup="*8", directed_pickup="*81"))
    assert classify("*81201", plan, EXTENSIONS.__contains__) == ServiceCall(
        Service.DIRECTED_PICKUP, "201"
    )
    with pytest.raises(DialPlanError, match="target extension"):
        classify("*81", plan, EXTENSIONS.__contains__)
    assert classify("*8", plan, EXTENSIONS.__contains__) == ServiceCall(Service.PICKUP)
    assert classify("*50", plan, EXTENSIONS.__contains__) == ExternalCall("*50", None)


@pytest.mark.parametrize("garbage", ["", "12a", "sip:100", "+", "1 2"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(DialPlanError):
        classify(garbage, PLAN, EXTENSIONS.__contains__)


def test_non_digit_pin_is_refused() -> None:
    with pytest.raises(DialPlanError, match="PIN"):
        classify("*51*12#", PLAN, EXTENSIONS.__contains__)


@pytest.mark.parametrize(
    "codes", [{"lock": "*5", "unlock": "*5"}, {"pickup": "ab"}, {"unlock": "*5 1"}]
)
def test_bad_codes_are_refused(codes: dict[str, str]) -> None:
    with pytest.raises(DialPlanError):
        ServiceCodes(**codes)

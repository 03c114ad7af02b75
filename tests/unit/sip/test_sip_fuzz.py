"""Fuzzing the parser: garbage and mutated messages only ever raise ``SipError``.

Bad input must get a clear error, never crash or hang (FEAT-01 robustness).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from centralino.sip import Request, SipError, parse_message, try_build_400

SEEDS = [p.read_bytes() for p in sorted((Path(__file__).parent / "torture").glob("*.dat"))]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def exercise(data: bytes) -> None:
    """Parse, then touch every typed view; only SipError may escape."""
    try:
        message = parse_message(data)
    except SipError as exc:
        answer = try_build_400(data, exc, to_tag="fuzz")
        assert answer is None or parse_message(answer).status >= 400  # type: ignore[union-attr]
        return
    parse_message(message.serialize())
    views = ["call_id", "cseq", "vias", "from_", "to", "contacts", "routes", "record_routes"]
    views += ["max_forwards", "expires", "content_type"]
    if isinstance(message, Request):
        views.append("uri")
    for name in views:
        with contextlib.suppress(SipError):
            getattr(message, name)
    with contextlib.suppress(SipError):
        message.validate()


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    exercise(data)


@FUZZ
@given(st.binary(max_size=400))
def test_random_headers_after_a_valid_start_line(tail: bytes) -> None:
    exercise(b"INVITE sip:a@b SIP/2.0\r\n" + tail + b"\r\n\r\n")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "dup"]))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    [
                        b";",
                        b",",
                        b'"',
                        b"<",
                        b">",
                        b"\\",
                        b" ",
                        b"\r\n",
                        b"\r\n ",
                        b":",
                        b"%",
                        b"\x00",
                        b"@",
                        b"[",
                        b"]",
                    ]
                )
            )
        elif action == "delete" and data:
            del data[position : position + draw(st.integers(1, 5))]
        elif action == "dup":
            data[position:position] = data[position : position + draw(st.integers(1, 40))]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_torture_messages(data: bytes) -> None:
    exercise(data)


@pytest.mark.timeout(10)
def test_pathological_inputs_stay_linear() -> None:
    """Long runs of the characters the grammar loops on finish quickly."""
    for filler in (b" ", b";", b",", b'"', b"\\", b"<", b"/", b"%", b"a"):
        body = filler * 200_000
        exercise(
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h"
            + body
            + b"\r\nTo: "
            + body
            + b"\r\n\r\n"
        )

"""Scalar header values: CSeq, Max-Forwards, Expires, Content-Length (RFC 3261 §20)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from centralino.sip.errors import SipHeaderError
from centralino.sip.grammar import TOKEN

__all__ = ["CSeq", "parse_cseq", "parse_uint"]

# §20.16: the sequence number is a 32-bit unsigned integer (RFC 4475 §3.1.2.4 sends 2**32).
MAX_CSEQ = 2**32 - 1
_CSEQ_RE = re.compile(r"([0-9]{1,10})[ \t]+(" + TOKEN + r")")
_UINT_RE = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class CSeq:
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(value: str) -> CSeq:
    m = _CSEQ_RE.fullmatch(value)
    if m is None:
        raise SipHeaderError("CSeq", repr(value[:40]))
    seq = int(m.group(1))
    if seq > MAX_CSEQ:
        raise SipHeaderError("CSeq", "sequence number above 2**32-1")
    return CSeq(seq, m.group(2))


def parse_uint(value: str, header: str, maximum: int) -> int:
    """A delta-seconds style non-negative integer not above ``maximum``."""
    if _UINT_RE.fullmatch(value) is None:
        raise SipHeaderError(header, repr(value[:40]))
    number = int(value)
    if number > maximum:
        raise SipHeaderError(header, f"{number} is above {maximum}")
    return number

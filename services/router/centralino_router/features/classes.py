"""Outbound routing classes: ordered dial-pattern rules that allow or deny a number.

Pattern syntax (Asterisk/FreePBX dial patterns, without the leading ``_``):

* a digit ``0``-``9``, ``*``, ``#`` or a leading ``+`` matches itself;
* ``X`` matches any digit 0-9, ``Z`` 1-9, ``N`` 2-9 (either case);
* ``[...]`` matches one digit from a set, with ranges (``[1-4,7]`` style, commas optional);
* ``.`` as the last character matches one or more further characters,
  ``!`` as the last character matches zero or more.

Rules are tried in order; the first match decides. A number matching no rule is denied
(default deny), so a class is a whitelist unless it ends with an explicit catch-all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

_DIALLABLE = re.compile(r"^\+?[0-9*#]+$")


class PatternError(ValueError):
    """A dial pattern is not valid in the syntax of this module."""


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Translate a dial pattern into an anchored regular expression."""
    if not pattern:
        raise PatternError("empty dial pattern")
    # config-api accepts x/z/n too, as FreePBX does
    pattern = pattern.upper()
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        last = i == len(pattern) - 1
        if ch in "0123456789*#":
            out.append(re.escape(ch))
        elif ch == "+" and i == 0:
            out.append(r"\+")
        elif ch == "X":
            out.append("[0-9]")
        elif ch == "Z":
            out.append("[1-9]")
        elif ch == "N":
            out.append("[2-9]")
        elif ch == "." and last and i > 0:
            out.append(".+")
        elif ch == "!" and last and i > 0:
            out.append(".*")
        elif ch == "[":
            end = pattern.find("]", i)
            if end == -1:
                raise PatternError(f"{pattern!r}: unclosed '[' at position {i}")
            out.append(_char_class(pattern, pattern[i + 1 : end]))
            i = end
        else:
            raise PatternError(f"{pattern!r}: unexpected {ch!r} at position {i}")
        i += 1
    return re.compile("^" + "".join(out) + "$")


def _char_class(pattern: str, body: str) -> str:
    members = body.replace(",", "")
    if not members:
        raise PatternError(f"{pattern!r}: empty character set")
    parts: list[str] = []
    j = 0
    while j < len(members):
        if j + 2 < len(members) and members[j + 1] == "-":
            lo, hi = members[j], members[j + 2]
            if not (lo.isdigit() and hi.isdigit() and lo <= hi):
                raise PatternError(f"{pattern!r}: bad range {lo}-{hi}")
            parts.append(f"{lo}-{hi}")
            j += 3
        elif members[j].isdigit():
            parts.append(members[j])
            j += 1
        else:
            raise PatternError(f"{pattern!r}: {members[j]!r} in a character set")
    return "[" + "".join(parts) + "]"


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    verdict: Verdict
    trunk: str = ""  # required when the verdict is allow

    def __post_init__(self) -> None:
        compile_pattern(self.pattern)
        if self.verdict is Verdict.ALLOW and not self.trunk:
            raise PatternError(f"{self.pattern!r}: an allow rule needs a trunk")


@dataclass(frozen=True, slots=True)
class RoutingClass:
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Allowed:
    trunk: str
    rule_index: int


@dataclass(frozen=True, slots=True)
class Denied:
    rule_index: int  # -1: no rule matched (default deny)
    reason: str


def route(number: str, cls: RoutingClass) -> Allowed | Denied:
    """Decide an external number against a class: the first matching rule wins."""
    if not _DIALLABLE.match(number):
        return Denied(-1, f"{number!r} is not a diallable number")
    for index, rule in enumerate(cls.rules):
        if compile_pattern(rule.pattern).match(number):
            if rule.verdict is Verdict.ALLOW:
                return Allowed(rule.trunk, index)
            return Denied(index, f"class {cls.name}: rule {index} ({rule.pattern}) denies")
    return Denied(-1, f"class {cls.name}: no rule matches (default deny)")

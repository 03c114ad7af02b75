"""RFC 3261 §25 grammar pieces shared by the parsers, as compiled regexes and helpers.

Every regex here is anchored and free of nested quantifiers over overlapping classes, so
matching time stays linear in the input: a parser fed by the network must not backtrack.
"""

from __future__ import annotations

import re

__all__ = [
    "TOKEN",
    "has_bad_header_bytes",
    "is_token",
    "quote",
    "scan_quoted",
    "split_commas",
    "split_params",
    "unquote",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_TOKEN_RE = re.compile(TOKEN)
# Control characters other than HTAB, and CR or LF that are not part of a CRLF pair
# (RFC 3261 §7: lines end in CRLF; a bare CR or LF is not a line ending). A control
# character may only appear escaped in a quoted-pair (``\\`` then the octet, §25.1;
# RFC 4475 §3.1.1.2 sends BEL, NUL and DEL that way).
_BAD_HEADER_BYTES = re.compile(rb"(?<!\\)[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n")
_CONTROLS = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_NOT_CONTROLS = bytes(b for b in range(256) if b not in _CONTROLS)


def has_bad_header_bytes(head: bytes) -> bool:
    """True if ``head`` holds a bare CR or LF or an unescaped control character."""
    # Fast path in C: most messages have no control characters at all, and their CRs
    # and LFs pair up exactly. Only the rare rest pays for the regex.
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        return True
    if not head.translate(None, _NOT_CONTROLS):
        return False
    return _BAD_HEADER_BYTES.search(head) is not None


# LWS/SWS as the parsers see them after unfolding: runs of SP and HTAB.
WS = " \t"


def is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def split_commas(value: str) -> list[str]:
    """Split a header value at commas that are not inside a quoted string or ``<...>``.

    RFC 3261 §7.3.1: a header whose grammar is a comma-separated list may be split over
    several lines or combined into one. Each element comes back stripped of SWS.
    """
    if '"' not in value and "<" not in value:
        return [part.strip(WS) for part in value.split(",")]
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip(WS))
            start = i + 1
        i += 1
    parts.append(value[start:].strip(WS))
    return parts


def split_params(text: str, what: str, *, uri: bool = False) -> list[tuple[str, str | None]]:
    """Parse ``;name=value;flag`` (generic-param list, SEMI and EQUAL allow SWS).

    ``text`` starts right after the first ``;``... or is empty. Names are returned
    lower-cased (parameter names are case-insensitive, §7.3.1); values keep their case
    and, if quoted, their quotes. ``uri`` selects the uri-parameter grammar (§19.1.1),
    which allows more characters but no quoting and no whitespace. Raises ``ValueError``
    naming ``what`` on bad syntax.
    """
    params: list[tuple[str, str | None]] = []
    if not text.strip(WS):
        return params
    for raw in _split_semicolons(text):
        name, eq, val = raw.partition("=")
        if uri:
            if not _URI_PARAM_RE.fullmatch(name) or (eq and not _URI_PARAM_RE.fullmatch(val)):
                raise ValueError(f"bad {what} parameter {raw!r}")
            params.append((name.lower(), val if eq else None))
            continue
        name = name.strip(WS)
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"bad {what} parameter name {name!r}")
        if not eq:
            params.append((name.lower(), None))
            continue
        val = val.strip(WS)
        if val.startswith('"'):
            if scan_quoted(val, 0) != len(val):
                raise ValueError(f"bad quoted value for {what} parameter {name!r}")
        elif not val or not _PARAM_VALUE_RE.fullmatch(val):
            raise ValueError(f"bad value for {what} parameter {name!r}")
        params.append((name.lower(), val))
    return params


# gen-value = token / host / quoted-string; host may be an IPv6 reference, and URI
# parameters (which reuse this helper) also allow the param-unreserved and escapes.
_PARAM_VALUE_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~\[\]:/&$()]+")


# paramchar = param-unreserved / unreserved / escaped (RFC 3261 §25.1)
_URI_PARAM_RE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+")


def scan_quoted(text: str, start: int) -> int:
    """Return the index just past the quoted-string opening at ``text[start]``.

    Raises ``ValueError`` if the string is not terminated (RFC 4475 §3.1.2.6).
    """
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise ValueError("unterminated quoted string")


def _split_semicolons(text: str) -> list[str]:
    if '"' not in text:
        return text.split(";")
    parts: list[str] = []
    start = 0
    in_quotes = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == ";":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if in_quotes:
        raise ValueError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def unquote(text: str) -> str:
    """Return the content of a quoted-string with its quoted-pairs resolved."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    body = text[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            i += 1
            ch = body[i]
        out.append(ch)
        i += 1
    return "".join(out)


def quote(text: str) -> str:
    """Quote ``text`` as a quoted-string, escaping ``"`` and ``\\``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""Building responses: ``make_response`` (§8.2.6) and ``try_build_400`` for broken requests."""

from __future__ import annotations

import re
import secrets

from centralino.sip.errors import SipError
from centralino.sip.grammar import has_bad_header_bytes
from centralino.sip.headers import header_key
from centralino.sip.ids import RandomBytes, generate_tag
from centralino.sip.message import Request, Response

__all__ = ["make_response", "try_build_400"]

# §8.2.6.2: these are copied from the request into every response, Via in order.
_COPIED = ("via", "from", "to", "call-id", "cseq")
_TAG_RE = re.compile(r";[ \t]*tag[ \t]*=", re.IGNORECASE)


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    to_tag: str | None = None,
) -> Response:
    """A response to ``request`` with Via, From, To, Call-ID and CSeq copied (§8.2.6.2).

    ``to_tag`` is added to To unless the request's To already has a tag (an in-dialog
    request) or the response is 100 Trying, which never carries one. A 100 Trying also
    copies Timestamp (§8.2.6.1).
    """
    response = Response(status, reason)
    items = response.headers._items
    for key, name, value in request.headers._items:
        if key in _COPIED or (status == 100 and key == "timestamp"):
            if key == "to" and to_tag is not None and status != 100 and request.to.tag is None:
                value = f"{value};tag={to_tag}"
            items.append((key, name, value))
    return response


def try_build_400(
    data: bytes,
    error: SipError,
    *,
    to_tag: str | None = None,
    random_bytes: RandomBytes = secrets.token_bytes,
) -> bytes | None:
    """Answer a request that failed to parse, if it can still be addressed.

    A response needs the request's Via (where to send it and how the client matches
    it), From, To, Call-ID and CSeq. If the bytes are a request (not ACK, which is never
    answered, and not a response) and those five headers can be found line by line,
    returns the wire bytes of a response whose status is the error's ``status_hint``
    (400 unless it names another 4xx-6xx) and whose reason phrase names the problem.
    Otherwise returns ``None``: the message is dropped.
    """
    text = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "surrogateescape")
    lines = text.lstrip("\r\n").split("\r\n")
    start = lines[0].split(" ")
    if len(start) < 3 or start[0].upper().startswith("SIP/") or start[0] == "ACK":
        return None
    found: dict[str, list[tuple[str, str]]] = {}
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        try:
            key = header_key(name.strip(" \t"))
        except ValueError:
            continue
        if key in _COPIED:
            found.setdefault(key, []).append((name.strip(" \t"), value.strip(" \t")))
    if any(key not in found for key in _COPIED):
        return None
    status = error.status_hint if 400 <= error.status_hint <= 699 else 400
    reason = "".join(ch for ch in error.reason if ch.isprintable())[:100]
    out = [f"SIP/2.0 {status} {reason}"]
    for key in _COPIED:
        for name, value in found[key]:
            if key == "to" and not _TAG_RE.search(value):
                tag = to_tag or generate_tag(random_bytes)
                value = f"{value};tag={tag}"
            out.append(f"{name}: {value}")
    out.append("Content-Length: 0")
    head = "\r\n".join(out).encode("utf-8", "surrogateescape")
    # Never echo bytes that would make our own response malformed (bare CR/LF, NUL...).
    if has_bad_header_bytes(head):
        return None
    return head + b"\r\n\r\n"

"""name-addr / addr-spec values: From, To, Contact, Route, Record-Route... (RFC 3261 §20.10)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from centralino.sip.errors import SipHeaderError, SipParseError
from centralino.sip.grammar import WS, quote, scan_quoted, split_params, unquote
from centralino.sip.uri import SipUri, parse_uri

__all__ = ["Address", "NameAddr", "parse_address"]

# display-name as *(token LWS): tokens separated by whitespace, nothing else.
_TOKEN_WORDS_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*")


@dataclass(slots=True, eq=False)
class Address:
    """A parsed name-addr or addr-spec with its header parameters (``tag``, ``expires``...).

    ``display_name`` is unquoted (``None`` when absent). ``str()`` always writes the
    name-addr form, which is never ambiguous about whose parameters follow.
    """

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @tag.setter
    def tag(self, value: str | None) -> None:
        if value is None:
            self.params.pop("tag", None)
        else:
            self.params["tag"] = value

    def copy(self) -> Address:
        return Address(self.uri.copy(), self.display_name, dict(self.params))

    def __str__(self) -> str:
        parts = []
        if self.display_name is not None:
            name = self.display_name
            parts.append((name if _TOKEN_WORDS_RE.fullmatch(name) else quote(name)) + " ")
        parts += ("<", str(self.uri), ">")
        for name, value in self.params.items():
            parts += (";", name) if value is None else (";", name, "=", value)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Address({str(self)!r})"


NameAddr = Address


def parse_address(value: str, header: str = "Address") -> Address:
    """Parse one name-addr or addr-spec followed by header parameters.

    Raises ``SipHeaderError`` naming ``header`` if the value is malformed.
    """
    text = value.strip(WS)
    try:
        return _parse(text)
    except (SipParseError, ValueError) as exc:
        detail = exc.reason if isinstance(exc, SipParseError) else str(exc)
        raise SipHeaderError(header, detail) from None


def _parse(text: str) -> Address:
    display: str | None = None
    if text.startswith('"'):
        end = scan_quoted(text, 0)
        display = unquote(text[:end])
        rest = text[end:].lstrip(WS)
        if not rest.startswith("<"):
            raise ValueError("quoted display name without <uri>")
    else:
        lt = text.find("<")
        if lt < 0:
            return _parse_addr_spec(text)
        words = text[:lt].strip(WS)
        if words:
            if not _TOKEN_WORDS_RE.fullmatch(words):
                raise ValueError(f"display name {words!r} must be quoted")
            display = words
        rest = text[lt:]
    gt = rest.find(">")
    if gt < 0:
        raise ValueError("missing '>'")
    uri = parse_uri(rest[1:gt])
    params = _header_params(rest[gt + 1 :])
    return Address(uri, display, params)


def _parse_addr_spec(text: str) -> Address:
    # §20: in addr-spec form the URI cannot carry ',', '?' or its own ';' parameters:
    # everything after the first ';' belongs to the header.
    uri_text, semi, param_text = text.partition(";")
    uri_text = uri_text.rstrip(WS)
    if any(ch in uri_text for ch in " \t?,"):
        raise ValueError(f"addr-spec {uri_text!r} must be enclosed in <>")
    uri = parse_uri(uri_text)
    return Address(uri, None, _header_params(semi + param_text))


def _header_params(text: str) -> dict[str, str | None]:
    text = text.strip(WS)
    if not text:
        return {}
    if text[0] != ";":
        raise ValueError(f"unexpected {text[:20]!r} after address")
    return dict(split_params(text[1:], "header"))

"""An ordered, case-preserving header list (RFC 3261 §7.3).

Headers are kept as the peer wrote them: original name spelling (including compact
forms), original order, unknown headers in place. Lookups are case-insensitive and treat
a compact form and its long name as the same header (§7.3.3). Values are stored unfolded
(continuation lines joined by one space, §7.3.1) and stripped of surrounding whitespace.
"""

from __future__ import annotations

from collections.abc import Iterator

from centralino.sip.grammar import is_token, split_commas

__all__ = ["COMPACT_FORMS", "MULTI_VALUE_HEADERS", "Headers", "canonical_name", "header_key"]

# RFC 3261 §7.3.3 and the extensions that registered a compact form with IANA.
COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_CANONICAL = {name.lower(): name for name in COMPACT_FORMS.values()} | {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
}

# Headers whose grammar is a comma-separated list (§7.3.1). The authentication headers
# are deliberately absent: their values contain commas between auth-params.
MULTI_VALUE_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "path",
        "service-route",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "content-encoding",
        "content-language",
        "in-reply-to",
        "alert-info",
        "call-info",
        "error-info",
        "warning",
        "reply-to",
        "p-asserted-identity",
        "p-preferred-identity",
        "reason",
    }
)

# Names seen on the wire → lookup key; bounded so a peer inventing names cannot grow it.
_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_LIMIT = 2048


def header_key(name: str) -> str:
    """The lookup key of a header name: lower-cased long form. Raises ``ValueError``."""
    key = _KEY_CACHE.get(name)
    if key is not None:
        return key
    if not is_token(name):
        raise ValueError(f"bad header name {name!r}")
    lowered = name.lower()
    long_form = COMPACT_FORMS.get(lowered)
    key = long_form.lower() if long_form else lowered
    if len(_KEY_CACHE) < _KEY_CACHE_LIMIT:
        _KEY_CACHE[name] = key
    return key


def canonical_name(name: str) -> str:
    """The conventional spelling of a header name (``call-id`` → ``Call-ID``, ``v`` → ``Via``)."""
    key = header_key(name)
    known = _CANONICAL.get(key)
    if known:
        return known
    return "-".join(part.capitalize() for part in key.split("-"))


class Headers:
    """Ordered header fields. Iterating yields ``(name, value)`` as on the wire."""

    __slots__ = ("_items", "_version")

    def __init__(self, items: list[tuple[str, str, str]] | None = None) -> None:
        # (key, name, value): key precomputed so lookups never re-lower names.
        self._items: list[tuple[str, str, str]] = items if items is not None else []
        self._version = 0

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> Headers:
        return cls([(header_key(n), n, v) for n, v in pairs])

    @property
    def version(self) -> int:
        """Bumped on each change; typed views cached by the message compare it."""
        return self._version

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for _, name, value in self._items:
            yield name, value

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            key = header_key(name)
        except ValueError:
            return False
        return any(k == key for k, _, _ in self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def copy(self) -> Headers:
        return Headers(list(self._items))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first line with this header name."""
        key = header_key(name)
        for k, _, value in self._items:
            if k == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every line's value for this header, in order (commas not split)."""
        key = header_key(name)
        return [value for k, _, value in self._items if k == key]

    def values(self, name: str) -> list[str]:
        """Every value of a header, splitting comma-separated lists where the grammar allows."""
        key = header_key(name)
        lines = [value for k, _, value in self._items if k == key]
        if key not in MULTI_VALUE_HEADERS:
            return lines
        out: list[str] = []
        for line in lines:
            out += [part for part in split_commas(line) if part]
        return out

    def add(self, name: str, value: str) -> None:
        """Append a header line at the end."""
        self._items.append((header_key(name), name, value))
        self._version += 1

    def prepend(self, name: str, value: str) -> None:
        """Insert before the first line of the same header (or at the top if none).

        This is where a proxy puts its Via and Record-Route (§16.6).
        """
        key = header_key(name)
        index = next((i for i, (k, _, _) in enumerate(self._items) if k == key), 0)
        self._items.insert(index, (key, name, value))
        self._version += 1

    def set(self, name: str, value: str) -> None:
        """Replace the first line of a header in place, dropping the others; append if absent."""
        key = header_key(name)
        for i, (k, old_name, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (key, old_name, value)
                self._items[i + 1 :] = [item for item in self._items[i + 1 :] if item[0] != key]
                self._version += 1
                return
        self.add(name, value)

    def remove(self, name: str) -> int:
        """Remove every line of a header; return how many were removed."""
        key = header_key(name)
        before = len(self._items)
        self._items = [item for item in self._items if item[0] != key]
        removed = before - len(self._items)
        if removed:
            self._version += 1
        return removed

    def pop_first_value(self, name: str) -> str | None:
        """Remove and return the first list element of a header (the top Via, Route...).

        Works whether the peer combined values on one line or used a line each.
        """
        key = header_key(name)
        for i, (k, hname, value) in enumerate(self._items):
            if k != key:
                continue
            parts = split_commas(value) if key in MULTI_VALUE_HEADERS else [value]
            first, rest = parts[0], [p for p in parts[1:] if p]
            if rest:
                self._items[i] = (key, hname, ", ".join(rest))
            else:
                del self._items[i]
            self._version += 1
            return first
        return None

    def replace_first_value(self, name: str, value: str) -> None:
        """Replace the first list element of a header (e.g. the top Via after rport)."""
        key = header_key(name)
        for i, (k, hname, line) in enumerate(self._items):
            if k != key:
                continue
            parts = split_commas(line) if key in MULTI_VALUE_HEADERS else [line]
            parts[0] = value
            self._items[i] = (key, hname, ", ".join(parts))
            self._version += 1
            return
        self.add(canonical_name(name), value)

"""The wire format between a PBX and the licence server (shared by client and reference server).

``GET /v1/serials/{serial}/licences`` answers::

    {"serial": "PBX-123", "licences": [{"key": "CNL1....", "import": "automatic"}, ...]}

``import`` is ``"automatic"`` (may be imported in one action) or ``"manual"`` (needs an
administrator, e.g. G.729 terms and personal data). The vendor publishes with
``POST /v1/serials/{serial}/licences`` and the same entry object, authorised by a bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from centralino_licensing.keys import MAX_KEY_LENGTH

IMPORT_MODES = ("automatic", "manual")
# Hundreds of licences per PBX would already be unusual; the caps bound what garbage costs.
MAX_ENTRIES = 1000
MAX_BODY = 1 << 20


class ProtocolError(ValueError):
    """A licence-server document does not follow the format above."""


@dataclass(frozen=True, slots=True)
class ServerEntry:
    key: str
    import_mode: str

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "import": self.import_mode}


def parse_entry(item: Any) -> ServerEntry:
    if not isinstance(item, dict):
        raise ProtocolError("a licence entry is not an object")
    key = item.get("key")
    mode = item.get("import", "automatic")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ProtocolError(f"a licence entry's key is not a string of 1..{MAX_KEY_LENGTH}")
    if mode not in IMPORT_MODES:
        raise ProtocolError(f"a licence entry's import is {mode!r}, not one of {IMPORT_MODES}")
    return ServerEntry(key, mode)


def parse_listing(document: Any, serial: str) -> list[ServerEntry]:
    if not isinstance(document, dict):
        raise ProtocolError("the answer is not a JSON object")
    if document.get("serial") != serial:
        raise ProtocolError(f"the answer is for serial {document.get('serial')!r}, not {serial!r}")
    items = document.get("licences")
    if not isinstance(items, list):
        raise ProtocolError("the answer has no 'licences' list")
    if len(items) > MAX_ENTRIES:
        raise ProtocolError(f"the answer lists more than {MAX_ENTRIES} licences")
    return [parse_entry(item) for item in items]

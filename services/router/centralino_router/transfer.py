"""What a REFER asks for (RFC 3515, RFC 3891): the transfer target, and for an attended
transfer the dialog it replaces; and the NOTIFY bodies that report the outcome.

Pure functions over header values: the B2BUA (``call.py``) carries transfers out.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from centralino.sip import SipError
from centralino.sip.address import parse_address


class ReferError(ValueError):
    """The REFER cannot be acted on; the message says why (sent as the reason phrase)."""


@dataclass(frozen=True, slots=True)
class Replaces:
    """The dialog an attended transfer replaces (RFC 3891 §6.1)."""

    call_id: str
    to_tag: str
    from_tag: str

    def names(self, call_id: str, tags: set[str]) -> bool:
        """Whether this names the dialog ``call_id`` whose two tags are ``tags``. Phones
        differ on whose perspective to-tag and from-tag take, so both orders match."""
        return self.call_id == call_id and {self.to_tag, self.from_tag} == tags


@dataclass(frozen=True, slots=True)
class ReferTarget:
    user: str  # the number to call (blind), or the consulted party (attended)
    replaces: Replaces | None = None


def parse_refer_to(value: str | None) -> ReferTarget:
    """Read a Refer-To header value: ``<sip:202@pbx>`` or
    ``<sip:202@pbx?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>``."""
    if not value:
        raise ReferError("Refer-To is missing")
    try:
        uri = parse_address(value).uri
    except SipError as exc:
        raise ReferError(f"Refer-To is not a SIP address: {exc}") from None
    if uri.scheme not in ("sip", "sips", "tel") or not uri.user:
        raise ReferError("Refer-To names no number to call")
    replaces = None
    for name, raw in uri.headers:
        if name.lower() == "replaces":
            replaces = parse_replaces(unquote(raw))
    return ReferTarget(unquote(uri.user), replaces)


def parse_replaces(value: str) -> Replaces:
    """``callid;to-tag=a;from-tag=b`` (RFC 3891 §6.1)."""
    call_id, *params = (part.strip() for part in value.split(";"))
    tags = {}
    for param in params:
        key, _, tag = param.partition("=")
        tags[key.strip().lower()] = tag.strip()
    if not call_id or not tags.get("to-tag") or not tags.get("from-tag"):
        raise ReferError("Replaces needs a Call-ID, to-tag and from-tag")
    return Replaces(call_id, tags["to-tag"], tags["from-tag"])


def sipfrag(status: int, reason: str) -> bytes:
    """The body of a refer NOTIFY (RFC 3515 §2.4.5): the status line the transfer got."""
    return f"SIP/2.0 {status} {reason}\r\n".encode()

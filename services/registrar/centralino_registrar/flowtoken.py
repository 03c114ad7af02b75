"""Flow tokens: the phone's flow written into our Record-Route and Via (RFC 5626 §5.2 idea).

A request for an established dialog reaches a phone through the registrar that record-
routed it; that registrar must send it over the same connection (TCP/TLS/WS) or to the
same NATed UDP address the dialog started on. Rather than keep per-dialog state, the
flow id goes into a URI/Via parameter as base64url (a valid SIP ``token``) and comes back
in the Route headers. Tokens only ever come back from the router's side; a token in a
phone's own request is ignored.
"""

from __future__ import annotations

import base64
import binascii


class FlowTokenError(ValueError):
    """A flow token that does not decode."""


def encode_flow(flow_id: str) -> str:
    return base64.urlsafe_b64encode(flow_id.encode()).decode().rstrip("=")


def decode_flow(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        flow_id = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise FlowTokenError(f"undecodable flow token {token[:40]!r}") from None
    if not flow_id:
        raise FlowTokenError("empty flow token")
    return flow_id

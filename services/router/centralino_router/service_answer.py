"""The SDP of a call that only exists to carry a service code's result.

Lock and unlock are answered with a 2xx and ended by the router once the phone has ACKed:
that is how a phone shows "done" for a feature code. No media flows, so the answer
declines every offered stream (RFC 3264 §6: port zero); an INVITE without an offer gets
an offer with one declined audio stream, which the phone answers in the ACK.
"""

from __future__ import annotations

import secrets

from centralino.sdp import SdpError
from centralino.sdp.model import Connection, MediaDescription, Origin, SessionDescription

_NO_OFFER = SessionDescription(
    origin=Origin("centralino", "0", 0, "IN", "IP4", "0.0.0.0"),
    connection=Connection("0.0.0.0"),
    media=(MediaDescription("audio", 0, "RTP/AVP", ("0",)),),
)


def declining_answer(offer: bytes) -> bytes:
    """An answer to ``offer`` declining all of its streams (or a declined offer)."""
    if not offer:
        return _NO_OFFER.serialize()
    try:
        sdp = SessionDescription.parse(offer)
    except SdpError:
        return _NO_OFFER.serialize()
    declined = [MediaDescription(m.media, 0, m.proto, m.formats[:1]) for m in sdp.media]
    answer = SessionDescription(
        origin=Origin("centralino", str(secrets.randbelow(2**31)), 0, "IN", "IP4", "0.0.0.0"),
        connection=Connection("0.0.0.0"),
        media=tuple(declined),
    )
    return answer.serialize()

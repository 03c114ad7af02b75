"""SDP (RFC 4566) model and offer/answer (RFC 3264) shared by the router and media services.

Parse with :meth:`SessionDescription.parse`, read streams with :func:`streams`, build offers and
answers for an account's ordered codec list with :func:`build_offer` / :func:`build_answer`.
"""

from centralino.sdp.attributes import (
    CRYPTO_SUITES,
    CryptoAttribute,
    RtcpAddress,
    RtpMap,
    crypto_attributes,
    fmtps,
    ptime,
    rtcp_address,
    rtpmaps,
    telephone_event_types,
)
from centralino.sdp.codecs import (
    ALL_CODECS,
    AUDIO_CODECS,
    COMFORT_NOISE_PT,
    TELEPHONE_EVENT_PT,
    VIDEO_CODECS,
    CodecSpec,
    codec_spec,
    identify,
)
from centralino.sdp.errors import SdpError, SdpNegotiationError, SdpParseError, SdpUsageError
from centralino.sdp.model import (
    DIRECTIONS,
    Attribute,
    Bandwidth,
    Connection,
    Line,
    MediaDescription,
    Origin,
    SessionDescription,
)
from centralino.sdp.negotiation import (
    RTP_AVP,
    RTP_SAVP,
    Format,
    LocalMedia,
    Stream,
    build_answer,
    build_offer,
    first_stream,
    intersect,
    streams,
)

__all__ = [
    "ALL_CODECS",
    "AUDIO_CODECS",
    "COMFORT_NOISE_PT",
    "CRYPTO_SUITES",
    "DIRECTIONS",
    "RTP_AVP",
    "RTP_SAVP",
    "TELEPHONE_EVENT_PT",
    "VIDEO_CODECS",
    "Attribute",
    "Bandwidth",
    "CodecSpec",
    "Connection",
    "CryptoAttribute",
    "Format",
    "Line",
    "LocalMedia",
    "MediaDescription",
    "Origin",
    "RtcpAddress",
    "RtpMap",
    "SdpError",
    "SdpNegotiationError",
    "SdpParseError",
    "SdpUsageError",
    "SessionDescription",
    "Stream",
    "build_answer",
    "build_offer",
    "codec_spec",
    "crypto_attributes",
    "first_stream",
    "fmtps",
    "identify",
    "intersect",
    "ptime",
    "rtcp_address",
    "rtpmaps",
    "streams",
    "telephone_event_types",
]

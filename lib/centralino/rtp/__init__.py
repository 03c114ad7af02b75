"""RTP/RTCP packets (RFC 3550), stream rewriting, reception statistics and RFC 4733 events.

Everything here is sans-IO: callers pass bytes and the current time.
"""

from centralino.rtp.packet import (
    HEADER_SIZE,
    RtpError,
    RtpPacket,
    is_rtcp,
)
from centralino.rtp.rewrite import Rewritten, StreamGenerator, StreamRewriter
from centralino.rtp.rtcp import (
    Bye,
    FullIntraRequest,
    PictureLossIndication,
    ReceiverReport,
    ReportBlock,
    RtcpOther,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    parse_compound,
    serialize_compound,
)
from centralino.rtp.stats import ReceptionStats, StatsSnapshot
from centralino.rtp.telephone_event import TelephoneEvent

__all__ = [
    "HEADER_SIZE",
    "Bye",
    "FullIntraRequest",
    "PictureLossIndication",
    "ReceiverReport",
    "ReceptionStats",
    "ReportBlock",
    "Rewritten",
    "RtcpOther",
    "RtcpPacket",
    "RtpError",
    "RtpPacket",
    "SdesChunk",
    "SenderReport",
    "SourceDescription",
    "StatsSnapshot",
    "StreamGenerator",
    "StreamRewriter",
    "TelephoneEvent",
    "is_rtcp",
    "parse_compound",
    "serialize_compound",
]

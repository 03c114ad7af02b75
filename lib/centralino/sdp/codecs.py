"""The account codec names of the admin manual mapped to RTP payload formats.

ACC-22 / ACC-23: an account selects and orders codecs by these names. Static payload types
come from RFC 3551 §6; dynamic ones are our defaults for offers (an answer reuses the
offerer's numbers, RFC 3264 §6.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from centralino.sdp.errors import SdpUsageError


@dataclass(frozen=True, slots=True)
class CodecSpec:
    name: str  # account codec name, e.g. "PCMA"
    media: str  # "audio" or "video"
    encoding: str  # rtpmap encoding name
    clock_rate: int  # RTP clock rate
    payload_type: int  # static PT, or our default dynamic PT
    channels: int | None = None
    fmtp: str | None = None

    @property
    def static(self) -> bool:
        return self.payload_type < 96


AUDIO_CODECS: dict[str, CodecSpec] = {
    c.name: c
    for c in (
        CodecSpec("PCMU", "audio", "PCMU", 8000, 0),
        CodecSpec("GSM", "audio", "GSM", 8000, 3),
        CodecSpec("PCMA", "audio", "PCMA", 8000, 8),
        # RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
        CodecSpec("G722", "audio", "G722", 8000, 9),
        # RFC 3551 §4.5.4 (errata): G726-32 is dynamic; PT 2 is deprecated.
        CodecSpec("G726", "audio", "G726-32", 8000, 112),
        CodecSpec("G729", "audio", "G729", 8000, 18, fmtp="annexb=no"),
        # RFC 7587 §7: always opus/48000/2 whatever the audio bandwidth.
        CodecSpec("OPUS", "audio", "opus", 48000, 111, channels=2, fmtp="useinbandfec=1"),
    )
}

VIDEO_CODECS: dict[str, CodecSpec] = {
    c.name: c
    for c in (
        CodecSpec("H261", "video", "H261", 90000, 31),
        CodecSpec("H263", "video", "H263", 90000, 34),
        CodecSpec("H263P", "video", "H263-1998", 90000, 96),
        CodecSpec(
            "H264",
            "video",
            "H264",
            90000,
            97,
            fmtp="profile-level-id=42e01f;packetization-mode=1",
        ),
        CodecSpec("VP8", "video", "VP8", 90000, 98),
    )
}

ALL_CODECS: dict[str, CodecSpec] = {**AUDIO_CODECS, **VIDEO_CODECS}

#: Other audio names an account may use for the same codec.
ALIASES = {"H.263+": "H263P", "H263+": "H263P", "G711A": "PCMA", "G711U": "PCMU"}

#: RFC 4733 DTMF: our default dynamic PT per clock rate (8 kHz codecs, Opus at 48 kHz).
TELEPHONE_EVENT_PT = {8000: 101, 48000: 110}
#: RFC 3389 comfort noise, static PT 13 at 8 kHz.
COMFORT_NOISE_PT = 13


def codec_spec(name: str) -> CodecSpec:
    """The spec for an account codec name (case-insensitive); SdpUsageError if unknown."""
    key = name.strip().upper()
    key = ALIASES.get(key, key)
    spec = ALL_CODECS.get(key)
    if spec is None:
        raise SdpUsageError(f"unknown codec name {name!r}; known: {', '.join(ALL_CODECS)}")
    return spec


def identify(
    media: str, payload_type: int, encoding: str | None, clock_rate: int | None
) -> CodecSpec | None:
    """The account codec a payload format denotes, by rtpmap or (if absent) static PT."""
    table = AUDIO_CODECS if media == "audio" else VIDEO_CODECS if media == "video" else {}
    if encoding is None:
        for spec in table.values():
            if spec.static and spec.payload_type == payload_type:
                return spec
        return None
    enc = encoding.lower()
    for spec in table.values():
        if spec.encoding.lower() == enc and (clock_rate is None or spec.clock_rate == clock_rate):
            return spec
    # RFC 3551 §4.5.4: "G726-32" is the name; some phones still send "G726".
    if media == "audio" and enc == "g726" and clock_rate == 8000:
        return AUDIO_CODECS["G726"]
    return None

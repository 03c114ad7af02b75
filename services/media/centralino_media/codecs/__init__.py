"""Audio codecs behind one interface: :func:`create_encoder` / :func:`create_decoder`.

| codec | library | why |
| --- | --- | --- |
| PCMA, PCMU | numpy tables | one gather per frame, A↔µ is ``bytes.translate`` |
| G722 | PyAV (FFmpeg) | encoder and decoder both usable per 20 ms frame |
| G726 (32k) | spandsp | FFmpeg's encoder only takes 2048-sample blocks |
| GSM | libgsm | FFmpeg has no GSM encoder |
| G729 | bcg729 | FFmpeg has no G.729 encoder; licensed per channel |
| OPUS | libopus | decodes at 8/16 kHz (FFmpeg: 48 kHz only), PLC; bench/media_codecs.py |
"""

from __future__ import annotations

from centralino_media.codecs import g711, g722, g726, g729, gsm, opus
from centralino_media.codecs.base import (
    CodecError,
    CodecInfo,
    CodecUnavailableError,
    Decoder,
    Encoder,
    Pcm,
)
from centralino_media.codecs.resample import Resampler

#: Codecs whose PCM rate is fixed; Opus adapts to the rate it is asked for.
FIXED_INFO: dict[str, CodecInfo] = {
    "PCMA": g711.PCMA,
    "PCMU": g711.PCMU,
    "G722": g722.G722,
    "G726": g726.G726,
    "GSM": gsm.GSM,
    "G729": g729.G729,
}


def codec_info(name: str, sample_rate: int | None = None) -> CodecInfo:
    """Info for ``name``; for Opus, at ``sample_rate`` (default 48 kHz)."""
    if name == "OPUS":
        return opus.info(sample_rate or opus.CLOCK_RATE)
    try:
        return FIXED_INFO[name]
    except KeyError:
        raise CodecError(f"unsupported codec {name!r}") from None


def create_encoder(name: str, sample_rate: int | None = None) -> Encoder:
    if name in ("PCMA", "PCMU"):
        return g711.G711Encoder(FIXED_INFO[name])
    if name == "G722":
        return g722.G722Encoder()
    if name == "G726":
        return g726.G726Encoder()
    if name == "GSM":
        return gsm.GsmEncoder()
    if name == "G729":
        return g729.G729Encoder()
    if name == "OPUS":
        return opus.OpusEncoder(sample_rate or opus.CLOCK_RATE)
    raise CodecError(f"unsupported codec {name!r}")


def create_decoder(name: str, sample_rate: int | None = None) -> Decoder:
    if name in ("PCMA", "PCMU"):
        return g711.G711Decoder(FIXED_INFO[name])
    if name == "G722":
        return g722.G722Decoder()
    if name == "G726":
        return g726.G726Decoder()
    if name == "GSM":
        return gsm.GsmDecoder()
    if name == "G729":
        return g729.G729Decoder()
    if name == "OPUS":
        return opus.OpusDecoder(sample_rate or opus.CLOCK_RATE)
    raise CodecError(f"unsupported codec {name!r}")


__all__ = [
    "FIXED_INFO",
    "CodecError",
    "CodecInfo",
    "CodecUnavailableError",
    "Decoder",
    "Encoder",
    "Pcm",
    "Resampler",
    "codec_info",
    "create_decoder",
    "create_encoder",
]

"""G.711 A-law and µ-law (ITU-T G.711) by table look-up, and the 256-byte A↔µ tables.

The encode tables cover every int16 value (64 KiB each) so encoding a frame is one numpy
gather; converting between the two laws is ``bytes.translate`` with a 256-byte table,
never a decode/encode round trip.
"""

from __future__ import annotations

import numpy as np

from centralino_media.codecs.base import CodecInfo, Decoder, Encoder, Pcm

PCMA = CodecInfo("PCMA", 8000, 8000, 1)
PCMU = CodecInfo("PCMU", 8000, 8000, 1)

_SEG_A_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_SEG_U_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_U_BIAS = 0x84
_U_CLIP = 8159


def _linear_to_alaw(pcm: np.ndarray) -> np.ndarray:
    v = pcm.astype(np.int32) >> 3
    positive = v >= 0
    mask = np.where(positive, 0xD5, 0x55)
    v = np.where(positive, v, -v - 1)
    seg = np.searchsorted(_SEG_A_END, v)
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((v >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8)


def _alaw_to_linear(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _linear_to_ulaw(pcm: np.ndarray) -> np.ndarray:
    v = pcm.astype(np.int32) >> 2
    negative = v < 0
    mask = np.where(negative, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), _U_CLIP) + (_U_BIAS >> 2)
    seg = np.searchsorted(_SEG_U_END, v)
    uval = (np.minimum(seg, 7) << 4) | ((v >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_to_linear(u: np.ndarray) -> np.ndarray:
    u = ~u.astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _U_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _U_BIAS - t, t - _U_BIAS).astype(np.int16)


_ALL_INT16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
_ALL_BYTES = np.arange(256, dtype=np.uint8)
# Indexed by the int16 sample reinterpreted as uint16.
ALAW_ENCODE = np.roll(_linear_to_alaw(_ALL_INT16), -32768)
ULAW_ENCODE = np.roll(_linear_to_ulaw(_ALL_INT16), -32768)
ALAW_DECODE = _alaw_to_linear(_ALL_BYTES)
ULAW_DECODE = _ulaw_to_linear(_ALL_BYTES)
ALAW_TO_ULAW = bytes(_linear_to_ulaw(ALAW_DECODE).tolist())
ULAW_TO_ALAW = bytes(_linear_to_alaw(ULAW_DECODE).tolist())


def alaw_to_ulaw(payload: bytes) -> bytes:
    return payload.translate(ALAW_TO_ULAW)


def ulaw_to_alaw(payload: bytes) -> bytes:
    return payload.translate(ULAW_TO_ALAW)


class G711Encoder(Encoder):
    def __init__(self, info: CodecInfo) -> None:
        self.info = info
        self._table = ALAW_ENCODE if info is PCMA else ULAW_ENCODE

    def encode(self, pcm: Pcm) -> bytes:
        self._check(pcm)
        return self._table[pcm.view(np.uint16)].tobytes()


class G711Decoder(Decoder):
    def __init__(self, info: CodecInfo) -> None:
        self.info = info
        self._table = ALAW_DECODE if info is PCMA else ULAW_DECODE

    def decode(self, payload: bytes) -> Pcm:
        return self._table[np.frombuffer(payload, dtype=np.uint8)]

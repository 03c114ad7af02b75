"""G.726 at 32 kbit/s with RFC 3551 §4.5.4 packing, through spandsp.

FFmpeg's G.726 encoder only takes fixed 2048-sample blocks (256 ms), far too long for RTP,
so both directions use spandsp's G.726, which works per sample. RFC 3551 puts the first
4-bit codeword in the least significant bits of the octet: spandsp's "right" packing.
"""

from __future__ import annotations

import ctypes

import numpy as np

from centralino_media.codecs import native
from centralino_media.codecs.base import CodecInfo, Decoder, Encoder, Pcm

G726 = CodecInfo("G726", 8000, 8000, 2)

_ENCODING_LINEAR = 0
_PACKING_RIGHT = 2
_BIT_RATE = 32000


def _lib() -> ctypes.CDLL:
    lib = native.load("spandsp")
    lib.g726_init.restype = ctypes.c_void_p
    lib.g726_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.g726_free.argtypes = [ctypes.c_void_p]
    lib.g726_encode.restype = ctypes.c_int
    lib.g726_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.g726_decode.restype = ctypes.c_int
    lib.g726_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    return lib


class _G726State:
    def __init__(self) -> None:
        self._lib = _lib()
        self._state: int | None = self._lib.g726_init(
            None, _BIT_RATE, _ENCODING_LINEAR, _PACKING_RIGHT
        )
        if not self._state:
            raise MemoryError("g726_init failed")

    def close(self) -> None:
        if self._state:
            self._lib.g726_free(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


class G726Encoder(_G726State, Encoder):
    info = G726

    def encode(self, pcm: Pcm) -> bytes:
        self._check(pcm)
        pcm = np.ascontiguousarray(pcm)
        out = ctypes.create_string_buffer(len(pcm) // 2)
        n = self._lib.g726_encode(self._state, out, pcm.ctypes.data, len(pcm))
        return out.raw[:n]


class G726Decoder(_G726State, Decoder):
    info = G726

    def decode(self, payload: bytes) -> Pcm:
        out = np.empty(len(payload) * 2, dtype=np.int16)
        n = self._lib.g726_decode(self._state, out.ctypes.data, payload, len(payload))
        return out[:n]

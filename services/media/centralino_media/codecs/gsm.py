"""GSM 06.10 full rate through libgsm: 160 samples (20 ms) ⇄ 33 bytes (RFC 3551 §4.5.8).

FFmpeg has a GSM decoder but no encoder, so both directions use libgsm, the reference
implementation FFmpeg's decoder is tested against.
"""

from __future__ import annotations

import ctypes

import numpy as np

from centralino_media.codecs import native
from centralino_media.codecs.base import CodecError, CodecInfo, Decoder, Encoder, Pcm

GSM = CodecInfo("GSM", 8000, 8000, 160)
FRAME_BYTES = 33


def _lib() -> ctypes.CDLL:
    lib = native.load("gsm")
    lib.gsm_create.restype = ctypes.c_void_p
    lib.gsm_create.argtypes = []
    lib.gsm_destroy.argtypes = [ctypes.c_void_p]
    lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
    lib.gsm_decode.restype = ctypes.c_int
    lib.gsm_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return lib


class _GsmState:
    def __init__(self) -> None:
        self._lib = _lib()
        self._state: int | None = self._lib.gsm_create()
        if not self._state:
            raise MemoryError("gsm_create failed")

    def close(self) -> None:
        if self._state:
            self._lib.gsm_destroy(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


class GsmEncoder(_GsmState, Encoder):
    info = GSM

    def encode(self, pcm: Pcm) -> bytes:
        self._check(pcm)
        pcm = np.ascontiguousarray(pcm)
        out = ctypes.create_string_buffer(FRAME_BYTES)
        parts = []
        for offset in range(0, len(pcm), 160):
            self._lib.gsm_encode(self._state, pcm[offset:].ctypes.data, out)
            parts.append(out.raw)
        return b"".join(parts)


class GsmDecoder(_GsmState, Decoder):
    info = GSM

    def decode(self, payload: bytes) -> Pcm:
        if not payload or len(payload) % FRAME_BYTES:
            raise CodecError(f"GSM: payload of {len(payload)} bytes is not 33-byte frames")
        out = np.empty(160 * (len(payload) // FRAME_BYTES), dtype=np.int16)
        for i in range(len(payload) // FRAME_BYTES):
            frame = payload[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
            if self._lib.gsm_decode(self._state, frame, out[i * 160 :].ctypes.data) < 0:
                raise CodecError("GSM: bad frame signature")
        return out

"""G.729 Annex A through bcg729: 80 samples (10 ms) ⇄ 10 bytes; 2-byte SID frames (Annex B).

FFmpeg decodes G.729 but cannot encode it. G.729 is licensed per channel: the media service
creates these only while it holds a licence from the licensing service.
"""

from __future__ import annotations

import ctypes

import numpy as np

from centralino_media.codecs import native
from centralino_media.codecs.base import CodecError, CodecInfo, Decoder, Encoder, Pcm

G729 = CodecInfo("G729", 8000, 8000, 80)
FRAME_BYTES = 10
SID_BYTES = 2


def _lib() -> ctypes.CDLL:
    lib = native.load("bcg729")
    lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
    lib.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
    lib.closeBcg729EncoderChannel.argtypes = [ctypes.c_void_p]
    lib.bcg729Encoder.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint8),
    ]
    lib.initBcg729DecoderChannel.restype = ctypes.c_void_p
    lib.initBcg729DecoderChannel.argtypes = []
    lib.closeBcg729DecoderChannel.argtypes = [ctypes.c_void_p]
    lib.bcg729Decoder.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_uint8,
        ctypes.c_uint8,
        ctypes.c_uint8,
        ctypes.c_uint8,
        ctypes.c_void_p,
    ]
    return lib


class G729Encoder(Encoder):
    info = G729

    def __init__(self) -> None:
        self._lib = _lib()
        # VAD off: annexb=no is what we offer, and fax/modem audio must not be gated.
        self._state: int | None = self._lib.initBcg729EncoderChannel(0)
        self._length = ctypes.c_uint8()

    def encode(self, pcm: Pcm) -> bytes:
        self._check(pcm)
        pcm = np.ascontiguousarray(pcm)
        out = ctypes.create_string_buffer(FRAME_BYTES)
        parts = []
        for offset in range(0, len(pcm), 80):
            self._lib.bcg729Encoder(
                self._state, pcm[offset:].ctypes.data, out, ctypes.byref(self._length)
            )
            parts.append(out.raw[: self._length.value])
        return b"".join(parts)

    def close(self) -> None:
        if self._state:
            self._lib.closeBcg729EncoderChannel(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()


class G729Decoder(Decoder):
    info = G729

    def __init__(self) -> None:
        self._lib = _lib()
        self._state: int | None = self._lib.initBcg729DecoderChannel()

    def decode(self, payload: bytes) -> Pcm:
        frames, rest = divmod(len(payload), FRAME_BYTES)
        if rest not in (0, SID_BYTES) or (frames == 0 and rest == 0):
            raise CodecError(f"G729: payload of {len(payload)} bytes")
        out = np.empty(80 * (frames + (1 if rest else 0)), dtype=np.int16)
        for i in range(frames):
            frame = payload[i * FRAME_BYTES : (i + 1) * FRAME_BYTES]
            self._lib.bcg729Decoder(
                self._state, frame, FRAME_BYTES, 0, 0, 0, out[i * 80 :].ctypes.data
            )
        if rest:
            sid = payload[frames * FRAME_BYTES :]
            self._lib.bcg729Decoder(
                self._state, sid, SID_BYTES, 0, 1, 0, out[frames * 80 :].ctypes.data
            )
        return out

    def conceal(self, samples: int) -> Pcm:
        out = np.empty(samples - samples % 80, dtype=np.int16)
        for offset in range(0, len(out), 80):
            self._lib.bcg729Decoder(self._state, None, 0, 1, 0, 0, out[offset:].ctypes.data)
        return out

    def close(self) -> None:
        if self._state:
            self._lib.closeBcg729DecoderChannel(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()

"""G.722 (ITU-T G.722 at 64 kbit/s) through PyAV/FFmpeg.

PCM is 16 kHz while the RTP clock is 8 kHz (RFC 3551 §4.5.2). FFmpeg encodes any even number
of samples per call, so a 20 ms frame (320 samples) is one call of ~20 µs.
"""

from __future__ import annotations

import av
import numpy as np
from av.audio.frame import AudioFrame

from centralino_media.codecs.base import CodecError, CodecInfo, Decoder, Encoder, Pcm

G722 = CodecInfo("G722", 16000, 8000, 2)


class G722Encoder(Encoder):
    info = G722

    def __init__(self) -> None:
        self._ctx = av.CodecContext.create("g722", "w")
        self._ctx.sample_rate = G722.sample_rate
        self._ctx.layout = "mono"
        self._ctx.format = "s16"
        self._ctx.open()

    def encode(self, pcm: Pcm) -> bytes:
        self._check(pcm)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = G722.sample_rate
        return b"".join(bytes(p) for p in self._ctx.encode(frame))


class G722Decoder(Decoder):
    info = G722

    def __init__(self) -> None:
        self._ctx = av.CodecContext.create("g722", "r")
        self._ctx.sample_rate = G722.sample_rate
        self._ctx.layout = "mono"

    def decode(self, payload: bytes) -> Pcm:
        if not payload:
            raise CodecError("G722: empty payload")
        try:
            frames = self._ctx.decode(av.Packet(payload))
        except av.FFmpegError as exc:
            raise CodecError(f"G722: {exc}") from None
        parts = [f.to_ndarray().reshape(-1).astype(np.int16, copy=False) for f in frames]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

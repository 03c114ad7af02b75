"""Integer-ratio resampling (8 ⇄ 16 ⇄ 48 kHz) with a windowed-sinc FIR, stateful across frames.

Only G.722 (16 kHz) bridged to an 8 kHz codec needs it: Opus encodes and decodes at the
other leg's rate. Frames are filtered with the tail of the previous one so there is no click
at frame boundaries.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

from centralino_media.codecs.base import Pcm

#: Filter taps per output phase; 16 gives > 60 dB stop-band with a Kaiser(8) window.
TAPS_PER_PHASE = 16


class Resampler:
    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError("sample rates must be positive")
        g = gcd(in_rate, out_rate)
        self.up = out_rate // g
        self.down = in_rate // g
        if self.up > 6 or self.down > 6:
            raise ValueError(f"unsupported ratio {in_rate} -> {out_rate}")
        factor = max(self.up, self.down)
        n = TAPS_PER_PHASE * factor + 1
        cutoff = 0.45 / factor  # cycles per sample at the upsampled rate, under Nyquist
        k = np.arange(n) - (n - 1) / 2
        self._taps: npt.NDArray[np.float64] = (
            2 * cutoff * np.sinc(2 * cutoff * k) * np.kaiser(n, 8.0) * self.up
        )
        self._history = np.zeros(n - 1)
        self._position = 0  # index, at the upsampled rate, of the next filtered sample

    def process(self, pcm: Pcm) -> Pcm:
        if self.up == 1 and self.down == 1:
            return pcm
        upsampled = np.zeros(len(pcm) * self.up)
        upsampled[:: self.up] = pcm
        buffer = np.concatenate((self._history, upsampled))
        filtered = np.convolve(buffer, self._taps, mode="valid")
        self._history = buffer[len(buffer) - len(self._history) :]
        start = (-self._position) % self.down
        self._position += len(filtered)
        out = filtered[start :: self.down]
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

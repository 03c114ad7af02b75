"""The codec interface every audio codec implements, whatever library is underneath.

PCM travels between stages as 1-D ``numpy.int16`` arrays at the codec's ``sample_rate``.
Encoders and decoders are stateful (ADPCM predictors, LPC memories), so each direction of
each leg owns its own instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]


class CodecError(ValueError):
    """A payload the decoder cannot decode, or PCM the encoder cannot take (wrong length)."""


class CodecUnavailableError(RuntimeError):
    """The shared library a codec needs is not installed on this host."""


@dataclass(frozen=True, slots=True)
class CodecInfo:
    name: str  # account codec name
    sample_rate: int  # PCM rate the codec works at
    clock_rate: int  # RTP timestamp rate (RFC 3551 / RFC 7587)
    block_samples: int  # PCM is encoded in multiples of this many samples

    def ticks(self, samples: int) -> int:
        """RTP timestamp units for ``samples`` PCM samples."""
        return samples * self.clock_rate // self.sample_rate


class Encoder(ABC):
    info: CodecInfo

    @abstractmethod
    def encode(self, pcm: Pcm) -> bytes:
        """Encode PCM whose length is a multiple of ``info.block_samples``."""

    def close(self) -> None:  # noqa: B027 - only codecs holding C state override it
        """Free native state; the object is unusable afterwards."""

    def _check(self, pcm: Pcm) -> None:
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise CodecError(f"{self.info.name}: PCM must be 1-D int16, got {pcm.dtype}")
        if len(pcm) == 0 or len(pcm) % self.info.block_samples:
            raise CodecError(
                f"{self.info.name}: {len(pcm)} samples is not a multiple of "
                f"{self.info.block_samples}"
            )


class Decoder(ABC):
    info: CodecInfo

    @abstractmethod
    def decode(self, payload: bytes) -> Pcm:
        """Decode one RTP payload into PCM at ``info.sample_rate``."""

    def conceal(self, samples: int) -> Pcm:
        """PCM to play for a lost packet; codecs without concealment play silence."""
        return np.zeros(samples, dtype=np.int16)

    def close(self) -> None:  # noqa: B027 - only codecs holding C state override it
        """Free native state; the object is unusable afterwards."""

"""A software phone for tests and benchmarks: SDP offer/answer, RTP/SRTP, tone checks.

It uses the same codec layer as the service, so tests that need an independent
implementation drive ffmpeg instead (tests/media/test_media_service.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from centralino.rtp import RtpPacket, StreamGenerator
from centralino.sdp import (
    CryptoAttribute,
    LocalMedia,
    SessionDescription,
    build_answer,
    build_offer,
    first_stream,
)
from centralino_media.codecs import Pcm, codec_info, create_decoder, create_encoder
from centralino_media.srtp import SrtpContext


def tone(freq: float, seconds: float, rate: int, amplitude: float = 8000.0) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_frequency(pcm: Pcm, rate: int) -> float:
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum) * rate / len(pcm))


def tone_snr_db(pcm: Pcm, rate: int, freq: float) -> float:
    """Energy within ±50 Hz of ``freq`` against everything else (0-Nyquist), in dB."""
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / rate)
    band = np.abs(freqs - freq) <= 50
    return float(10 * np.log10(power[band].sum() / max(power[~band].sum(), 1e-9)))


@dataclass
class SimPhone:
    host: str
    port: int
    codecs: tuple[str, ...]
    srtp: bool = False
    rtcp_mux: bool = False
    ptime: int = 20
    comfort_noise: bool = False
    ssrc: int = 0x11223344
    keys: tuple[CryptoAttribute, ...] = field(default=())
    context: SrtpContext | None = None
    codec: str | None = None
    payload_type: int | None = None
    te_pt: int | None = None

    def __post_init__(self) -> None:
        if self.srtp:
            self.keys = (CryptoAttribute.generate(1, "AES_CM_128_HMAC_SHA1_80"),)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def _media(self) -> list[LocalMedia]:
        return [
            LocalMedia(
                "audio",
                self.port,
                self.codecs,
                rtcp_mux=self.rtcp_mux,
                crypto=self.keys,
                ptime=self.ptime,
                comfort_noise=self.comfort_noise,
            )
        ]

    def offer(self) -> bytes:
        return build_offer(self.host, self._media(), session_id=1).serialize()

    def answer(self, offer: bytes) -> bytes:
        sdp = SessionDescription.parse(offer)
        answer = build_answer(sdp, self.host, self._media(), session_id=2)
        self.learn(offer, answer.serialize(), offerer=False)
        return answer.serialize()

    def learn(self, offer: bytes, answer: bytes, *, offerer: bool) -> None:
        """Pick the codec (first of the answer) and SRTP keys, as a phone does."""
        ans = first_stream(SessionDescription.parse(answer), "audio")
        off = first_stream(SessionDescription.parse(offer), "audio")
        assert ans is not None and off is not None and ans.codec is not None
        self.codec = ans.codec.codec
        self.payload_type = ans.codec.payload_type
        self.te_pt = ans.telephone_event_pt(ans.codec.clock_rate)
        if self.srtp:
            # The answer carries one crypto line; the offer's line with the same tag pairs it.
            chosen = ans.crypto[0]
            offered = next(c for c in off.crypto if c.tag == chosen.tag)
            mine, theirs = (offered, chosen) if offerer else (chosen, offered)
            self.context = SrtpContext(chosen.suite, mine.key_salt, theirs.key_salt)

    @property
    def rate(self) -> int:
        assert self.codec is not None
        return codec_info(self.codec).sample_rate

    def packets(
        self, pcm: Pcm, first_seq: int = 1000, first_ts: int = 0, *, protected: bool = True
    ) -> list[bytes]:
        """RTP (SRTP when the phone uses it and ``protected``) packets of ``ptime`` frames."""
        assert self.codec is not None and self.payload_type is not None
        encoder = create_encoder(self.codec, self.rate)
        frame = self.rate * self.ptime // 1000
        gen = StreamGenerator(self.ssrc, encoder.info.clock_rate, first_seq, first_ts)
        out = []
        for offset in range(0, len(pcm) - frame + 1, frame):
            payload = encoder.encode(pcm[offset : offset + frame])
            seq, ts = gen.next(encoder.info.ticks(frame))
            packet = RtpPacket(self.payload_type, seq, ts, self.ssrc, payload).serialize()
            out.append(self.protect(packet) if protected else packet)
        return out

    def protect(self, packet: bytes) -> bytes:
        return self.context.protect(packet) if self.context else packet

    def unprotect(self, data: bytes) -> bytes:
        return self.context.unprotect(data) if self.context else data

    def decode(self, datagrams: list[bytes]) -> tuple[Pcm, list[RtpPacket]]:
        """Decode what reached this phone, in sequence order, checking each packet's PT."""
        assert self.codec is not None
        decoder = create_decoder(self.codec, self.rate)
        packets = [RtpPacket.parse(self.unprotect(d)) for d in datagrams]
        audio = [p for p in packets if p.payload_type == self.payload_type]
        pcm = [decoder.decode(p.payload) for p in audio]
        return (np.concatenate(pcm) if pcm else np.zeros(0, np.int16)), packets


def telephone_event(
    pt: int, seq: int, ts: int, ssrc: int, event: int, duration: int, end: bool, marker: bool
) -> bytes:
    payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
    return RtpPacket(pt, seq, ts, ssrc, payload, marker=marker).serialize()

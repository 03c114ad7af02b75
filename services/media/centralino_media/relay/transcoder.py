"""Transcoding one direction of a call: decode, resample, re-frame, encode, re-time.

The output is a stream of its own (our SSRC, our sequence numbers), timed from the input:
an input timestamp gap of a few packets is loss and is concealed; a longer one is a silence
(DTX, comfort noise, hold) and the output skips the same time and marks the next packet as a
talk-spurt start (RFC 3551 §4.1). The output frame length is the receiving leg's ptime,
so 20 ms in and 30 ms out works (re-packetisation). RFC 4733 events are re-timed onto the
output clock (8 kHz for G.711 and 48 kHz for Opus differ) instead of being decoded as audio.
"""

from __future__ import annotations

import struct

import numpy as np

from centralino.rtp import StreamGenerator, TelephoneEvent
from centralino.rtp.packet import RtpError
from centralino_media.codecs import (
    CodecError,
    Decoder,
    Encoder,
    Pcm,
    Resampler,
    codec_info,
    create_decoder,
    create_encoder,
)
from centralino_media.codecs.opus import RATES as OPUS_RATES
from centralino_media.relay.counters import LegCounters

_HEADER = struct.Struct("!BBHII")
#: Up to this much missing input is concealed; more is treated as a silence period.
MAX_CONCEAL_SECONDS = 0.1
_EMPTY = np.zeros(0, dtype=np.int16)


def pcm_rate(codec: str, other: str) -> int:
    """The PCM rate a codec runs at when bridged to ``other`` (Opus follows its partner)."""
    if codec != "OPUS":
        return codec_info(codec).sample_rate
    if other == "OPUS":
        return 48000
    partner = codec_info(other).sample_rate
    return partner if partner in OPUS_RATES else 16000


class Transcoder:
    """Packets from a leg sending ``formats`` become packets for a leg receiving ``codec``."""

    def __init__(
        self,
        formats: dict[int, tuple[str, int]],
        telephone_events: dict[int, int],
        comfort_noise_pt: int | None,
        codec: str,
        payload_type: int,
        ptime: int,
        telephone_event_pt: int | None,
        generator: StreamGenerator,
        resume_after: float | None = None,
    ) -> None:
        self._formats = formats
        self._telephone_events = telephone_events
        self._cn_pt = comfort_noise_pt
        first = next(iter(formats.values()))[0] if formats else "PCMU"
        self._enc_rate = pcm_rate(codec, first)
        self._encoder: Encoder = create_encoder(codec, self._enc_rate)
        self._out_info = self._encoder.info
        self._pt = payload_type
        self._te_pt = telephone_event_pt
        block = self._out_info.block_samples
        frame = self._enc_rate * ptime // 1000
        self._frame = max(block, frame - frame % block)
        self._frame_ticks = self._out_info.ticks(self._frame)
        self._gen = generator
        # Set when the generator continues a stream last sent at that time (renegotiation).
        self._resume_after = resume_after
        self._decoders: dict[int, tuple[Decoder, Resampler]] = {}
        self._fifo: Pcm = _EMPTY
        self._in_ssrc: int | None = None
        self._expected_ts = 0
        self._in_clock = 8000
        self._marker = True
        # RFC 4733: all packets of one event carry the event's start timestamp.
        self._event_in_ts: int | None = None
        self._event_out_ts = 0

    def close(self) -> None:
        self._encoder.close()
        for decoder, _ in self._decoders.values():
            decoder.close()

    def _decoder(self, pt: int) -> tuple[Decoder, Resampler] | None:
        found = self._decoders.get(pt)
        if found is None:
            fmt = self._formats.get(pt)
            if fmt is None:
                return None
            codec = fmt[0]
            rate = pcm_rate(codec, self._out_info.name)
            decoder = create_decoder(codec, rate)
            found = (decoder, Resampler(decoder.info.sample_rate, self._enc_rate))
            self._decoders[pt] = found
        return found

    def _packet(self, pt: int, seq: int, ts: int, marker: bool, payload: bytes) -> bytes:
        second = (0x80 if marker else 0) | pt
        return _HEADER.pack(0x80, second, seq, ts, self._gen.ssrc) + payload

    def _emit(self, out: list[bytes]) -> None:
        while len(self._fifo) >= self._frame:
            frame, self._fifo = self._fifo[: self._frame], self._fifo[self._frame :]
            payload = self._encoder.encode(frame)
            seq, ts = self._gen.next(self._frame_ticks)
            out.append(self._packet(self._pt, seq, ts, self._marker, payload))
            self._marker = False

    def _flush(self, out: list[bytes]) -> None:
        """End of a talk-spurt: pad the partial frame with silence and send it."""
        if len(self._fifo):
            pad = np.zeros(self._frame - len(self._fifo), dtype=np.int16)
            self._fifo = np.concatenate((self._fifo, pad))
            self._emit(out)

    def _skip(self, in_ticks: int) -> None:
        out_ticks = in_ticks * self._out_info.clock_rate // self._in_clock
        self._gen.skip(max(0, out_ticks))
        self._marker = True

    def feed(
        self,
        pt: int,
        ts: int,
        ssrc: int,
        payload: bytes,
        counters: LegCounters,
        now: float,
    ) -> list[bytes]:
        """One inbound RTP packet (already authenticated) → zero or more outbound packets."""
        out: list[bytes] = []
        if self._resume_after is not None:
            elapsed = max(0.0, now - self._resume_after)
            self._gen.skip(max(1, round(elapsed * self._out_info.clock_rate)))
            self._resume_after = None
        if pt in self._telephone_events:
            self._telephone_event(pt, ts, payload, counters, out)
            return out
        if pt == self._cn_pt:
            counters.comfort_noise += 1
            self._flush(out)
            self._marker = True
            return out
        found = self._decoder(pt)
        if found is None:
            counters.dropped_unknown_pt += 1
            return out
        decoder, resampler = found
        clock = self._formats[pt][1]
        if ssrc != self._in_ssrc or clock != self._in_clock:
            self._flush(out)
            self._in_ssrc = ssrc
            self._in_clock = clock
            self._marker = True
        else:
            gap = (ts - self._expected_ts) & 0xFFFFFFFF
            if gap >= 0x80000000:  # older than what we already produced
                counters.dropped_late += 1
                return out
            if gap:
                if gap <= MAX_CONCEAL_SECONDS * clock:
                    samples = gap * decoder.info.sample_rate // clock
                    self._fifo = np.concatenate(
                        (self._fifo, resampler.process(decoder.conceal(samples)))
                    )
                else:
                    self._flush(out)
                    self._skip(gap)
        try:
            pcm = decoder.decode(payload)
        except CodecError:
            counters.dropped_malformed += 1
            return out
        self._expected_ts = (ts + decoder.info.ticks(len(pcm))) & 0xFFFFFFFF
        # Same clock on both sides in ticks-per-sample terms only after resampling.
        self._fifo = np.concatenate((self._fifo, resampler.process(pcm)))
        self._emit(out)
        return out

    def _telephone_event(
        self, pt: int, ts: int, payload: bytes, counters: LegCounters, out: list[bytes]
    ) -> None:
        if self._te_pt is None:
            counters.dropped_unknown_pt += 1
            return
        try:
            event = TelephoneEvent.parse(payload)
        except RtpError:
            counters.dropped_malformed += 1
            return
        counters.telephone_events += 1
        start = ts != self._event_in_ts
        if start:
            self._flush(out)
            self._event_in_ts = ts
            self._event_out_ts = self._gen.next_timestamp
        in_rate = self._telephone_events[pt]
        retimed = event.rescaled(in_rate, self._out_info.clock_rate)
        seq = self._gen.next_sequence()
        out.append(self._packet(self._te_pt, seq, self._event_out_ts, start, retimed.serialize()))
        if event.end:
            # The next audio starts after the event; keep output time in step with it.
            self._expected_ts = (ts + event.duration) & 0xFFFFFFFF
            end_ts = self._event_out_ts + retimed.duration
            ahead = (end_ts - self._gen.next_timestamp) & 0xFFFFFFFF
            if ahead < 0x80000000:
                self._gen.skip(ahead)
            self._marker = True

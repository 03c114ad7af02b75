"""Every codec: round-trip quality, interoperability with FFmpeg's decoders, bad input (FEAT-03)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from centralino_media.codecs import (
    CodecError,
    Pcm,
    Resampler,
    create_decoder,
    create_encoder,
    g711,
)


def speech_like(rate: int, seconds: float = 1.0) -> Pcm:
    """A voiced, pitch-gliding vowel with formants and syllable envelope: not periodic, so the
    codec delay found by cross-correlation is unique."""
    t = np.arange(int(rate * seconds)) / rate
    f0 = 110 + 40 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    signal = np.zeros_like(t)
    for harmonic in range(1, 30):
        freq = harmonic * f0
        # Formants around 700 Hz and 1200 Hz (an open vowel), nothing above Nyquist.
        gain = np.exp(-(((freq - 700) / 300) ** 2)) + 0.6 * np.exp(-(((freq - 1200) / 400) ** 2))
        gain = np.where(freq < rate / 2 * 0.9, gain, 0.0)
        signal += gain * np.sin(harmonic * phase)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    signal *= envelope / np.max(np.abs(signal))
    return (9000 * signal).astype(np.int16)


def aligned_quality(reference: Pcm, decoded: Pcm, max_lag: int = 800) -> tuple[float, float]:
    """(correlation, SNR dB) after finding the codec delay and the best gain."""
    x = reference.astype(np.float64)
    y = decoded.astype(np.float64)
    n = min(len(x), len(y))
    skip = n // 5  # let adaptive codecs converge
    best_lag, best_corr = 0, -1.0
    for lag in range(max_lag):
        a, b = x[skip : n - lag], y[skip + lag : n]
        corr = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b) + 1e-9))
        if corr > best_corr:
            best_lag, best_corr = lag, corr
    a, b = x[skip : n - best_lag], y[skip + best_lag : n]
    gain = np.dot(a, b) / np.dot(a, a)
    noise = b - gain * a
    snr = 10 * np.log10(np.dot(gain * a, gain * a) / max(np.dot(noise, noise), 1e-9))
    return best_corr, float(snr)


def round_trip(name: str, rate: int, frame_ms: int = 20) -> tuple[Pcm, list[bytes], Pcm]:
    encoder, decoder = create_encoder(name, rate), create_decoder(name, rate)
    pcm = speech_like(rate)
    frame = rate * frame_ms // 1000
    payloads = [encoder.encode(pcm[i : i + frame]) for i in range(0, len(pcm), frame)]
    decoded = np.concatenate([decoder.decode(p) for p in payloads])
    return pcm, payloads, decoded


# Thresholds leave margin under measured values; waveform codecs must do far better than
# the parametric GSM and G.729 (whose SNR on speech is inherently low).
CASES = [
    ("PCMA", 8000, 160, 0.999, 30),
    ("PCMU", 8000, 160, 0.999, 30),
    ("G722", 16000, 160, 0.99, 20),
    ("G726", 8000, 80, 0.99, 18),
    ("GSM", 8000, 33, 0.85, 4),
    ("G729", 8000, 20, 0.80, 3),
    ("OPUS", 8000, None, 0.95, 10),
    ("OPUS", 16000, None, 0.95, 10),
    ("OPUS", 48000, None, 0.95, 10),
]


@pytest.mark.parametrize(("name", "rate", "size", "min_corr", "min_snr"), CASES)
def test_round_trip_quality_FEAT_03(
    name: str, rate: int, size: int | None, min_corr: float, min_snr: float
) -> None:
    pcm, payloads, decoded = round_trip(name, rate)
    assert len(payloads) == 50
    if size is not None:
        assert {len(p) for p in payloads} == {size}
    assert len(decoded) == len(pcm)
    corr, snr = aligned_quality(pcm, decoded)
    assert corr >= min_corr and snr >= min_snr, (corr, snr)


def _ffmpeg_g711(codec: str, pcm: Pcm) -> tuple[bytes, Pcm]:
    enc = av.CodecContext.create(codec, "w")
    enc.sample_rate, enc.layout, enc.format = 8000, "mono", "s16"
    enc.open()
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 8000
    encoded = b"".join(bytes(p) for p in enc.encode(frame))
    dec = av.CodecContext.create(codec, "r")
    dec.sample_rate, dec.layout = 8000, "mono"
    frames = dec.decode(av.Packet(bytes(range(256))))
    return encoded, np.concatenate([f.to_ndarray().reshape(-1) for f in frames])


@pytest.mark.parametrize(("codec", "name"), [("pcm_alaw", "PCMA"), ("pcm_mulaw", "PCMU")])
def test_g711_tables_against_ffmpeg_for_every_sample(codec: str, name: str) -> None:
    every = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    reference, levels = _ffmpeg_g711(codec, every)
    decoder = create_decoder(name)
    # Decoding is defined by G.711 exactly: bit-exact with FFmpeg for all 256 codes.
    assert np.array_equal(decoder.decode(bytes(range(256))), levels)
    ours = create_encoder(name).encode(every)
    theirs_level = decoder.decode(reference).astype(int)
    ours_level = decoder.decode(ours).astype(int)
    # Encoders may differ only at decision boundaries, by one quantisation level.
    differ = np.nonzero(ours_level != theirs_level)[0]
    assert len(differ) < 0.02 * len(every)
    sorted_levels = np.unique(levels.astype(int))
    for i in differ:
        a, b = sorted(np.searchsorted(sorted_levels, [ours_level[i], theirs_level[i]]))
        assert b - a == 1
    # And the quantisation error stays within one local step everywhere.
    error = np.abs(ours_level - every.astype(int))
    assert np.all(error <= np.maximum(64, np.abs(every.astype(int)) // 8))


def test_alaw_ulaw_conversion_is_a_table_not_a_round_trip() -> None:
    every = bytes(range(256))
    assert len(g711.ALAW_TO_ULAW) == len(g711.ULAW_TO_ALAW) == 256
    via_pcm = create_encoder("PCMU").encode(create_decoder("PCMA").decode(every))
    assert g711.alaw_to_ulaw(every) == via_pcm
    # A-law -> µ-law -> A-law moves a sample by less than one A-law step at its level.
    back = np.frombuffer(g711.ulaw_to_alaw(g711.alaw_to_ulaw(every)), np.uint8)
    original = g711.ALAW_DECODE.astype(int)
    diff = np.abs(g711.ALAW_DECODE[back].astype(int) - original)
    assert np.all(diff <= np.maximum(16, np.abs(original) // 16))


def _ffmpeg_decode(codec: str, payloads: list[bytes], rate: int) -> Pcm:
    ctx = av.CodecContext.create(codec, "r")
    ctx.sample_rate, ctx.layout = rate, "mono"
    out = []
    for payload in payloads:
        for frame in ctx.decode(av.Packet(payload)):
            out.append(frame.to_ndarray().reshape(-1))
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("name", "ffmpeg_codec", "rate", "min_corr"),
    [("GSM", "gsm", 8000, 0.85), ("G729", "g729", 8000, 0.8), ("OPUS", "opus", 48000, 0.95)],
)
def test_our_encoders_decode_in_ffmpeg(
    name: str, ffmpeg_codec: str, rate: int, min_corr: float
) -> None:
    """The C-library encoders produce standard bitstreams: FFmpeg's decoders accept them."""
    pcm, payloads, _ = round_trip(name, rate)
    decoded = _ffmpeg_decode(ffmpeg_codec, payloads, rate)
    if decoded.dtype != np.int16:  # FFmpeg's Opus decoder outputs float
        decoded = np.clip(decoded * 32768, -32768, 32767).astype(np.int16)
    corr, _ = aligned_quality(pcm, decoded[: len(pcm)])
    assert corr >= min_corr


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_g726_packing_is_rfc3551_as_ffmpeg_g726le_reads_it(tmp_path: Path) -> None:
    """RFC 3551 §4.5.4 packs the first codeword in the low bits: FFmpeg's ``g726le``."""
    pcm, payloads, ours = round_trip("G726", 8000)
    raw = tmp_path / "speech.g726"
    raw.write_bytes(b"".join(payloads))
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g726le", "-code_size", "4",
         "-sample_rate", "8000", "-i", str(raw), "-f", "s16le", "-"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    theirs = np.frombuffer(result.stdout, dtype=np.int16)
    corr, snr = aligned_quality(pcm, theirs[: len(pcm)])
    assert corr > 0.99 and snr > 18, (corr, snr)
    assert aligned_quality(ours, theirs[: len(ours)], max_lag=2)[0] > 0.999
    # And the big-endian (AAL2) reading would be noise: the packing really matters.
    wrong = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g726", "-code_size", "4",
         "-sample_rate", "8000", "-i", str(raw), "-f", "s16le", "-"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    _, bad_snr = aligned_quality(pcm, np.frombuffer(wrong.stdout, dtype=np.int16)[: len(pcm)])
    assert bad_snr < snr - 10


def test_resampler_keeps_a_tone_and_rejects_images() -> None:
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    up, down = Resampler(8000, 16000), Resampler(16000, 8000)
    wide = np.concatenate([up.process(pcm[i : i + 160]) for i in range(0, 8000, 160)])
    assert len(wide) == 16000
    spectrum = np.abs(np.fft.rfft(wide[1600:].astype(float) * np.hanning(14400)))
    freqs = np.fft.rfftfreq(14400, 1 / 16000)
    assert abs(freqs[np.argmax(spectrum)] - 1000) < 5
    image = spectrum[np.abs(freqs - 7000) < 50].max()
    assert 20 * np.log10(spectrum.max() / image) > 50  # the 7 kHz image is filtered out
    narrow = np.concatenate([down.process(wide[i : i + 320]) for i in range(0, 16000, 320)])
    corr, snr = aligned_quality(pcm, narrow, max_lag=100)
    assert corr > 0.999 and snr > 40


@pytest.mark.parametrize("name", ["PCMA", "G722", "G726", "GSM", "G729", "OPUS"])
def test_bad_input_raises_codec_error_not_crash(name: str) -> None:
    rate = 16000 if name == "G722" else 8000
    encoder, decoder = create_encoder(name, rate), create_decoder(name, rate)
    with pytest.raises(CodecError):
        encoder.encode(np.zeros(0, dtype=np.int16))
    if encoder.info.block_samples > 1:
        with pytest.raises(CodecError):
            encoder.encode(np.zeros(7, dtype=np.int16))
    with pytest.raises(CodecError):
        encoder.encode(np.zeros(160, dtype=np.float32))  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    for size in (0, 1, 2, 3, 10, 33, 200, 1500):
        try:
            out = decoder.decode(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        except CodecError:
            continue
        assert out.dtype == np.int16


def test_concealment_fills_lost_time() -> None:
    for name in ("OPUS", "G729", "PCMU"):
        decoder = create_decoder(name, 8000)
        encoder = create_encoder(name, 8000)
        decoder.decode(encoder.encode(speech_like(8000, 0.02)))
        assert len(decoder.conceal(160)) == 160

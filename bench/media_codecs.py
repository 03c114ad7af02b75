"""Per-frame cost of each codec path, and the measurements behind the library choices.

    python bench/media_codecs.py

For each 20 ms frame: our codec layer (numpy tables, libopus/libgsm/bcg729/spandsp through
ctypes, PyAV for G.722) against PyAV where PyAV can do the same job, then one packet through
the sans-IO core (relay, and transcode with SRTP). What decided the choices:

* G.711: the numpy table gather costs less than one PyAV frame wrap.
* Opus: PyAV's Opus decoder always outputs 48 kHz (compare "PyAV opus decode" with
  "OPUS@8000 decode"), and a G.711 leg would then also need a 48→8 kHz resampler; libopus
  decodes at 8 kHz directly and conceals loss with a NULL packet. Encoding through PyAV with
  the same settings costs about the same as calling libopus: it is kept direct for one
  binding and per-stream controls (FEC, expected loss).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable

import av
import numpy as np

from centralino_media.codecs import create_decoder, create_encoder
from centralino_media.relay import LegPorts, LegSettings, MediaSession
from centralino_media.simphone import SimPhone, tone
from centralino_media.srtp import SrtpContext

REPEAT = 2000


def _per_call_us(job: Callable[[], object], repeat: int = REPEAT) -> float:
    for _ in range(50):
        job()
    start = time.perf_counter()
    for _ in range(repeat):
        job()
    return round((time.perf_counter() - start) / repeat * 1e6, 2)


def _pyav_encoder(name: str, rate: int) -> Callable[[np.ndarray], bytes]:
    ctx = av.CodecContext.create(name, "w")
    ctx.sample_rate, ctx.layout, ctx.format = rate, "mono", "s16"
    if name == "libopus":  # the same settings as our OpusEncoder
        ctx.bit_rate = 24000
        ctx.options = {
            "application": "voip",
            "compression_level": "3",
            "fec": "1",
            "packet_loss": "5",
        }
    ctx.open()

    def encode(pcm: np.ndarray) -> bytes:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        return b"".join(bytes(p) for p in ctx.encode(frame))

    return encode


def _pyav_decoder(name: str, rate: int) -> Callable[[bytes], np.ndarray]:
    ctx = av.CodecContext.create(name, "r")
    ctx.sample_rate, ctx.layout = rate, "mono"

    def decode(payload: bytes) -> np.ndarray:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in ctx.decode(av.Packet(payload))])

    return decode


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    for name, rate in [
        ("PCMA", 8000),
        ("PCMU", 8000),
        ("G722", 16000),
        ("G726", 8000),
        ("GSM", 8000),
        ("G729", 8000),
        ("OPUS", 8000),
        ("OPUS", 16000),
        ("OPUS", 48000),
    ]:
        encoder, decoder = create_encoder(name, rate), create_decoder(name, rate)
        pcm = tone(1000, 0.02, rate)
        payload = encoder.encode(pcm)
        results[f"{name}@{rate}"] = {
            "encode_us": _per_call_us(lambda e=encoder, p=pcm: e.encode(p)),
            "decode_us": _per_call_us(lambda d=decoder, p=payload: d.decode(p)),
        }
    pcm8 = tone(1000, 0.02, 8000)
    opus_av = _pyav_encoder("libopus", 8000)
    alaw_av = _pyav_encoder("pcm_alaw", 8000)
    results["PyAV libopus@8000"] = {"encode_us": _per_call_us(lambda: opus_av(pcm8))}
    results["PyAV pcm_alaw"] = {"encode_us": _per_call_us(lambda: alaw_av(pcm8))}
    opus_packet = create_encoder("OPUS", 48000).encode(tone(1000, 0.02, 48000))
    opus_dec_av = _pyav_decoder("opus", 48000)
    results["PyAV opus decode (48 kHz only)"] = {
        "decode_us": _per_call_us(lambda: opus_dec_av(opus_packet))
    }
    key, other = os.urandom(30), os.urandom(30)
    tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, other)
    rx = SrtpContext("AES_CM_128_HMAC_SHA1_80", other, key)
    packets = [
        bytes([0x80, 8]) + (i & 0xFFFF).to_bytes(2, "big") + bytes(8) + bytes(160)
        for i in range(REPEAT + 50)
    ]
    protected = iter([tx.protect(p) for p in packets])
    plain = iter(packets)
    fresh = SrtpContext("AES_CM_128_HMAC_SHA1_80", key, other)
    results["SRTP (pylibsrtp)"] = {
        "protect_us": _per_call_us(lambda: fresh.protect(next(plain))),
        "unprotect_us": _per_call_us(lambda: rx.unprotect(next(protected))),
    }
    results["sans-IO core, per packet"] = {
        "relay_PCMA_us": _core_us(("PCMA",), ("PCMA",), srtp=False),
        "transcode_PCMA_to_OPUS_srtp_in_us": _core_us(("PCMA",), ("OPUS",), srtp=True),
        "transcode_OPUS_to_PCMA_us": _core_us(("OPUS",), ("PCMA",), srtp=False),
    }
    print(json.dumps(results, indent=2))


def _core_us(codec_a: tuple[str, ...], codec_b: tuple[str, ...], srtp: bool) -> float:
    """One packet through MediaSession.receive (no sockets): A's packet out to B."""
    pa = SimPhone("192.0.2.1", 4000, codec_a, srtp=srtp)
    pb = SimPhone("192.0.2.2", 5000, codec_b)
    ports = {"a": LegPorts((30000, 30001)), "b": LegPorts((30002, 30003))}
    session = MediaSession(
        "bench", "127.0.0.1", [LegSettings("a", codec_a, srtp=srtp), LegSettings("b", codec_b)],
        ports, rng=random.Random(1),
    )  # fmt: skip
    offer = pa.offer()
    session.update("a", offer, is_offer=True)
    pa.learn(offer, session.local_sdp("a").serialize(), offerer=True)
    session.update("b", pb.answer(session.local_sdp("b").serialize()), is_offer=False)
    packets = pa.packets(tone(1000, (REPEAT + 50) * 0.02, pa.rate), first_seq=0)
    feed = iter(enumerate(packets))

    def one() -> None:
        i, packet = next(feed)
        session.receive(30000, packet, pa.address, i * 0.02)

    return _per_call_us(one)


if __name__ == "__main__":
    main()

"""How many calls one core of the media service carries, with zero loss.

    python bench/media_calls.py --mode relay --calls 300 --seconds 10
    python bench/media_calls.py --mode transcode --calls 60 --seconds 10

``relay``: both legs G.711 A-law, the relay rewrites headers only (target ≥ 500 calls/core).
``transcode``: leg A PCMA over SRTP, leg B Opus: decode/encode both ways plus SRTP on one leg
(target ≥ 80 calls/core).

The media data plane and controller run in a child process (pinned to one CPU when
possible); this process is the load: two phones per call, 50 packets/s per direction,
ticks spread over the 20 ms slot. The child reports its CPU time over the measured window;
calls/core = calls / CPU fraction. Loss and jitter (RFC 3550 A.8, at the receiving phones)
are reported for the offered load, so "zero loss" is checked, not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import uvloop

from centralino.rtp import ReceptionStats
from centralino.sdp import SessionDescription, first_stream
from centralino.v1 import media_pb2
from centralino_media.controller import EventSource, MediaController
from centralino_media.dataplane import DataPlane
from centralino_media.ports import PortAllocator
from centralino_media.settings import MediaSettings
from centralino_media.simphone import SimPhone, tone

# Benchmarks are not tests: they take a wide range of their own (4 ports per call).
PORT_MIN, PORT_MAX = 22000, 29999
HOST = "127.0.0.1"


# --- server side (child process) -----------------------------------------------------------


class _NullSink:
    async def publish(self, subject: str, message: Any) -> None:
        return None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def serve(port_min: int, port_max: int) -> None:
    """Read JSON commands on stdin, answer on stdout."""
    settings = MediaSettings(
        advertised_address=HOST,
        bind_address=HOST,
        port_min=port_min,
        port_max=port_max,
        inactivity_seconds=3600,
        stats_interval_seconds=3600,
        default_lease_seconds=3600,
        max_lease_seconds=3600,
    )
    plane = DataPlane(HOST, PortAllocator(port_min, port_max))
    controller = MediaController(
        settings, plane, _NullSink(), EventSource("media", "bench"), licences=None
    )
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)
            await controller.tick()

    tick = asyncio.create_task(ticker())
    while line := await reader.readline():
        command = json.loads(line)
        reply: dict[str, Any] = {}
        if command["op"] == "call":
            record = await controller.allocate(
                media_pb2.AllocateRequest(
                    call_id=command["id"],
                    owner="bench",
                    legs=[
                        media_pb2.LegSpec(name="a", codecs=command["a"], srtp=command["srtp"],
                                          signalling_tls=True),
                        media_pb2.LegSpec(name="b", codecs=command["b"]),
                    ],
                )
            )  # fmt: skip
            sid = record.session_id
            await controller.update_leg(
                media_pb2.UpdateLegRequest(
                    session_id=sid, leg="a", remote_sdp=command["offer_a"].encode(),
                    remote_is_offer=True,
                )
            )  # fmt: skip
            offer_b = record.session.local_sdp("b").serialize().decode()
            reply = {
                "session": sid,
                "answer_a": record.session.local_sdp("a").serialize().decode(),
                "offer_b": offer_b,
            }
        elif command["op"] == "answer":
            await controller.update_leg(
                media_pb2.UpdateLegRequest(
                    session_id=command["session"], leg="b", remote_sdp=command["sdp"].encode()
                )
            )
        elif command["op"] == "cpu":
            reply = {"cpu": _cpu(), "wall": time.monotonic()}
        elif command["op"] == "counters":
            drops = 0
            for r in controller.registry.all():
                for s in r.session.stats():
                    drops += s.dropped
            reply = {"dropped": drops}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    tick.cancel()
    await controller.close()
    plane.close()


# --- load side ---------------------------------------------------------------------------


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, clock_rate: int) -> None:
        self.stats = ReceptionStats(clock_rate)
        self.count = 0
        self.measure = False

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12 or 192 <= data[1] <= 223:
            return
        if self.measure:
            self.count += 1
            seq = int.from_bytes(data[2:4], "big")
            ts = int.from_bytes(data[4:8], "big")
            self.stats.update(seq, ts, time.monotonic())


@dataclass
class _Leg:
    phone: SimPhone
    receiver: _Receiver
    transport: asyncio.DatagramTransport
    frames: list[bytes]
    relay: tuple[str, int] = ("", 0)
    sent: int = 0


class _Server:
    def __init__(self, cpu: int | None, port_min: int, port_max: int) -> None:
        command = [sys.executable, __file__, "--serve", str(port_min), str(port_max)]
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            command = ["taskset", "-c", str(cpu), *command]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


async def _make_leg(codec: str, srtp: bool, clock: int) -> _Leg:
    loop = asyncio.get_running_loop()
    receiver = _Receiver(clock)
    transport, _ = await loop.create_datagram_endpoint(lambda: receiver, local_addr=(HOST, 0))
    port = transport.get_extra_info("sockname")[1]
    phone = SimPhone(HOST, port, (codec,), srtp=srtp)
    return _Leg(phone, receiver, transport, [])


def _relay_address(sdp: str) -> tuple[str, int]:
    stream = first_stream(SessionDescription.parse(sdp), "audio")
    assert stream is not None and stream.address
    return stream.address, stream.port


async def run(
    mode: str, calls: int, seconds: float, cpu: int | None, direct: bool = False
) -> dict[str, Any]:
    codec_b = "PCMA" if mode == "relay" else "OPUS"
    srtp = mode == "transcode"
    server = _Server(cpu, PORT_MIN, PORT_MAX)
    legs: list[tuple[_Leg, _Leg]] = []
    try:
        for i in range(calls):
            a = await _make_leg("PCMA", srtp, 8000)
            b = await _make_leg(codec_b, False, 8000 if codec_b == "PCMA" else 48000)
            offer_a = a.phone.offer().decode()
            reply = server.ask(op="call", id=f"bench-{i}", a=["PCMA"], b=[codec_b], srtp=srtp,
                               offer_a=offer_a)  # fmt: skip
            a.phone.learn(offer_a.encode(), reply["answer_a"].encode(), offerer=True)
            answer_b = b.phone.answer(reply["offer_b"].encode())
            server.ask(op="answer", session=reply["session"], sdp=answer_b.decode())
            a.relay = _relay_address(reply["answer_a"])
            b.relay = _relay_address(reply["offer_b"])
            if direct:  # baseline: phone to phone, to see the load generator's own jitter
                a.relay, b.relay = b.phone.address, a.phone.address
                # Each phone now receives the other's codec, so it measures with that clock.
                a.receiver.stats, b.receiver.stats = b.receiver.stats, a.receiver.stats
            legs.append((a, b))
        # One second of real encoded audio per phone, cycled.
        for a, b in legs:
            # Plain frames: SRTP protects each packet as sent (fresh index every time).
            a.frames = a.phone.packets(tone(1000, 1.0, 8000), first_seq=0, protected=False)
            b.frames = b.phone.packets(tone(600, 1.0, b.phone.rate), first_seq=0, protected=False)
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1
        slots = 20  # spread the calls over the 20 ms interval, as unsynchronised phones are
        stop_at = start + 1.0 + seconds
        done = asyncio.Event()
        measuring: dict[str, float] = {}

        def send(group: int, n: int) -> None:
            now = loop.time()
            if now >= stop_at:
                if group == 0:
                    done.set()
                return
            for a, b in legs[group::slots]:
                for leg in (a, b):
                    frame = leg.frames[n % len(leg.frames)]
                    packet = _renumber(frame, n, leg.phone)
                    leg.transport.sendto(packet, leg.relay)
                    leg.sent += 1
            loop.call_at(start + (n + 1) * 0.02 + group * 0.02 / slots, send, group, n + 1)

        for group in range(slots):
            loop.call_at(start + group * 0.02 / slots, send, group, 0)
        # Warm up one second, then measure.
        await asyncio.sleep(start + 1.0 - loop.time())
        for a, b in legs:
            a.receiver.measure = b.receiver.measure = True
        before = server.ask(op="cpu")
        measuring["sent"] = sum(a.sent + b.sent for a, b in legs)
        await done.wait()
        after = server.ask(op="cpu")
        await asyncio.sleep(0.3)  # let the last packets drain before counting
        sent = sum(a.sent + b.sent for a, b in legs) - measuring["sent"]
        received = sum(a.receiver.count + b.receiver.count for a, b in legs)
        lost = sum(leg.receiver.stats.lost for a, b in legs for leg in (a, b))
        jitters = sorted(leg.receiver.stats.jitter_ms for a, b in legs for leg in (a, b))
        dropped = server.ask(op="counters")["dropped"]
    finally:
        server.close()
    cpu_fraction = (after["cpu"] - before["cpu"]) / (after["wall"] - before["wall"])
    return {
        "mode": f"{mode} (direct baseline)" if direct else mode,
        "calls": calls,
        "packets_per_second": round(calls * 100),
        "cpu_fraction_of_one_core": round(cpu_fraction, 3),
        "calls_per_core": round(calls / cpu_fraction) if cpu_fraction and not direct else None,
        "sent": sent,
        "received": received,
        "lost": lost,  # RFC 3550 A.3 at the receiving phones
        "loss_fraction": round(lost / received, 6) if received else None,
        "relay_dropped": dropped,
        "jitter_ms_median": round(jitters[len(jitters) // 2], 3),
        "jitter_ms_max": round(jitters[-1], 3),
    }


def _renumber(frame: bytes, n: int, phone: SimPhone) -> bytes:
    """Sequence/timestamp for packet ``n`` of an endless stream, then SRTP if the leg uses it."""
    packet = bytearray(frame)
    ticks = 160 if phone.codec != "OPUS" else 960
    packet[2:4] = (n & 0xFFFF).to_bytes(2, "big")
    packet[4:8] = ((n * ticks) & 0xFFFFFFFF).to_bytes(4, "big")
    return phone.protect(bytes(packet))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        uvloop.run(serve(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["relay", "transcode"], default="relay")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin the media process to")
    parser.add_argument(
        "--direct", action="store_true", help="phones talk directly: the jitter baseline"
    )
    args = parser.parse_args()
    if args.calls * 4 > PORT_MAX - PORT_MIN:
        parser.error(f"at most {(PORT_MAX - PORT_MIN) // 4} calls fit the bench port range")
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        # Keep the load off the media process's CPU.
        others = os.sched_getaffinity(0) - {args.cpu}
        os.sched_setaffinity(0, others)
    result = uvloop.run(run(args.mode, args.calls, args.seconds, args.cpu, args.direct))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

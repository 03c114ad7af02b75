"""SIP transactions per second over UDP: the minimal test server (uvloop) against SIPp.

Runs the stack's minimal server (tests/sip_transport/minimal_server.py) on a loopback UDP
port and drives it with SIPp at stepped call rates, each for a few seconds, stopping at
the first step that fails. A step is sustained when fewer than 0.5 % of its calls fail
and SIPp kept up the rate it was asked for. Prints one line per step and the best
sustained rate in transactions per second.

    python bench/sip_udp_transactions.py [--scenario options|uac] [--seconds 3]
        [--rates 500,1000,2000,...]

``options`` is one OPTIONS transaction per call (a custom scenario); ``uac`` is SIPp's
built-in INVITE/ACK/BYE call, two transactions (INVITE, BYE) per call.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sip_transport.minimal_server import MinimalServer  # noqa: E402

SCENARIO = ROOT / "tests" / "sip_transport" / "scenarios" / "options.xml"
MAX_FAILURE_RATIO = 0.005
SIPP_PORT, SIPP_MEDIA_PORT = 47900, 47910
DEFAULT_RATES = (1000, 2000, 4000, 6000, 8000, 10000, 12000, 15000, 20000, 25000, 30000)


@dataclass(frozen=True)
class Step:
    rate: int
    calls: int
    ok: int
    failed: int
    retransmissions: int
    seconds: float
    transactions_per_call: int

    @property
    def tps(self) -> float:
        return self.ok * self.transactions_per_call / self.seconds

    @property
    def sustained(self) -> bool:
        finished = self.ok + self.failed == self.calls
        kept_up = self.ok / self.seconds >= 0.9 * self.rate
        return finished and self.failed <= MAX_FAILURE_RATIO * self.calls and kept_up


async def run_step(
    target: tuple[str, int], scenario: str, rate: int, seconds: float, workdir: Path
) -> Step:
    calls = int(rate * seconds)
    stats = workdir / f"step-{rate}.csv"
    source = ["-sn", "uac"] if scenario == "uac" else ["-sf", str(SCENARIO)]
    argv = [
        "sipp", f"{target[0]}:{target[1]}", *source, "-t", "u1",
        "-r", str(rate), "-m", str(calls), "-l", str(max(rate, 100) * 2),
        "-i", "127.0.0.1", "-p", str(SIPP_PORT), "-mp", str(SIPP_MEDIA_PORT),
        "-nostdin", "-timeout", f"{int(seconds * 3) + 10}s", "-timeout_error",
        "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]  # fmt: skip
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    elapsed = time.monotonic() - started
    if not stats.exists():
        raise RuntimeError(f"sipp exited {proc.returncode} without statistics: {err.decode()}")
    with stats.open() as f:
        last = list(csv.DictReader(f, delimiter=";"))[-1]
    return Step(
        rate=rate,
        calls=calls,
        ok=int(last["SuccessfulCall(C)"]),
        failed=int(last["FailedCall(C)"]),
        retransmissions=int(last["Retransmissions(C)"]),
        seconds=elapsed,
        transactions_per_call=2 if scenario == "uac" else 1,
    )


async def main(scenario: str, seconds: float, rates: list[int]) -> int:
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian package sip-tester); nothing measured")
        return 0
    server = MinimalServer()
    listener = await server.listen("udp", "127.0.0.1", 0)
    best: Step | None = None
    print(
        f"minimal SIP server on udp {listener.local[0]}:{listener.local[1]} (uvloop), "
        f"scenario {scenario}, {seconds:g} s per step"
    )
    print(
        f"{'rate/s':>8} {'calls':>7} {'ok':>7} {'failed':>6} {'retrans':>7} "
        f"{'secs':>6} {'tx/s':>8}  sustained"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="sip-bench-") as tmp:
            for rate in rates:
                step = await run_step(listener.local, scenario, rate, seconds, Path(tmp))
                print(
                    f"{step.rate:>8} {step.calls:>7} {step.ok:>7} {step.failed:>6} "
                    f"{step.retransmissions:>7} {step.seconds:>6.2f} {step.tps:>8.0f}  "
                    f"{'yes' if step.sustained else 'no'}",
                    flush=True,
                )
                if not step.sustained:
                    break
                best = step
    finally:
        await server.close()
    if best is None:
        print("no step sustained with < 0.5 % failures")
        return 1
    print(
        f"sustained: {best.tps:.0f} transactions/s (at {best.rate} calls/s, "
        f"{best.failed} of {best.calls} calls failed)"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("options", "uac"), default="options")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)))
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    sys.exit(uvloop.run(main(args.scenario, args.seconds, rates)))

"""REGISTER throughput of the registrar: SIPp with digest auth over 10,000 accounts.

Everything real and local: embedded NATS (JetStream KV ``locations``) and PostgreSQL,
config-api seeded with the accounts, ``--processes`` registrar processes (one UDP port
each, one SIPp each: the load splits evenly, as SO_REUSEPORT would split it), and SIPp
stepping the total rate up. Each REGISTER is two round trips (401 challenge, then the
authenticated request), one KV read, one compare-and-set KV write and one JetStream event.

Prints per step the offered and achieved rate, failures and the CPU each component used
(in % of one core), then the highest rate sustained with < 0.5 % failures.

    uv run --frozen python bench/registrar_register.py [--accounts 10000] [--processes 2]
        [--rates 500,1000,2000,3000,4000,5000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil

from centralino.grpcserver import check_health
from centralino.runner.embedded import EmbeddedNats, EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "registrar" / "sipp" / "reg_auth.xml"
SECRET = "bench-secret-key-0123456789abcdef"
FIRST_ACCOUNT = 10000


@dataclass
class Step:
    offered: int
    ok: int
    failed: int
    seconds: float
    cpu: dict[str, float]

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def failure_ratio(self) -> float:
        total = self.ok + self.failed
        return self.failed / total if total else 1.0


def cpu_seconds(processes: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, procs in processes.items():
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        out[name] = total
    return out


def wait_options(port: int, timeout: float = 30.0) -> None:
    """Until the registrar answers an OPTIONS on its UDP port."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
        while time.monotonic() < deadline:
            s.sendto(
                (
                    f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKbench{time.time_ns()}\r\n"
                    "From: <sip:bench@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
                    "Call-ID: bench-ready\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode(),
                ("127.0.0.1", port),
            )
            try:
                if b"200 OK" in s.recv(4096):
                    return
            except TimeoutError:
                continue
    raise RuntimeError(f"registrar on UDP {port} did not answer OPTIONS")


def users_csv(path: Path, creds: list[tuple[str, str]]) -> None:
    lines = ["SEQUENTIAL"] + [f"{u};[authentication username={u} password={p}]" for u, p in creds]
    path.write_text("\n".join(lines) + "\n")


def run_sipp_step(
    ports: list[int], csvs: list[Path], rate: int, seconds: float, workdir: Path, tag: str
) -> tuple[int, int, float]:
    per = max(1, rate // len(ports))
    calls = int(per * seconds)
    procs = []
    stats = []
    for i, (port, users) in enumerate(zip(ports, csvs, strict=True)):
        stat = workdir / f"{tag}-{i}.csv"
        stats.append(stat)
        procs.append(
            subprocess.Popen(
                [
                    "sipp",
                    f"127.0.0.1:{port}",
                    "-sf",
                    str(SCENARIO),
                    "-inf",
                    str(users),
                    "-m",
                    str(calls),
                    "-r",
                    str(per),
                    "-l",
                    str(max(per * 4, 100)),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(45500 + i),
                    "-mp",
                    str(45600 + i * 4),
                    "-nostdin",
                    "-timeout",
                    f"{int(seconds) + 30}s",
                    "-timeout_error",
                    "-trace_stat",
                    "-stf",
                    str(stat),
                    "-fd",
                    "1",
                ],
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    started = time.monotonic()
    for p in procs:
        p.wait(timeout=seconds + 60)
    elapsed = time.monotonic() - started
    ok = failed = 0
    for stat in stats:
        rows = list(csv.DictReader(stat.read_text().splitlines(), delimiter=";"))
        ok += int(rows[-1]["SuccessfulCall(C)"])
        failed += int(rows[-1]["FailedCall(C)"])
    return ok, failed, elapsed


async def outbox_drained(database_url: str, timeout: float = 120.0) -> None:
    """Until config-api has published the seed's ConfigChanged events: measuring while
    20,000 of them flow through the registrars would measure the import, not REGISTER."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while await conn.fetchval("SELECT count(*) FROM outbox"):
            if time.monotonic() > deadline:
                raise RuntimeError("config-api did not publish its outbox")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def healthy(address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check_health(address):
            return
        await asyncio.sleep(0.3)
    raise RuntimeError(f"no healthy gRPC server at {address}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--rates", default="500,1000,1500,2000,3000,4000,5000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument(
        "--warmup-rate",
        type=int,
        default=400,
        help="config-api answers a few hundred GetAccount/s: fill caches gently",
    )
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]

    with tempfile.TemporaryDirectory(prefix="registrar-bench-") as tmp:
        work = Path(tmp)
        nats = EmbeddedNats(work / "nats", free_port())
        pg = EmbeddedPostgres(work / "pg", free_port(), durable=False)
        nats.start()
        pg.start()
        children: list[subprocess.Popen[bytes]] = []
        try:
            config_grpc = f"127.0.0.1:{free_port()}"
            base_env = {
                **os.environ,
                "NATS_URL": nats.url,
                "DATABASE_URL": pg.url,
                "CENTRALINO_SECRET_KEY": SECRET,
                "CENTRALINO_CONFIG_GRPC": config_grpc,
                "CENTRALINO_LOG_LEVEL": "WARNING",
                "CENTRALINO_ADMIN_PASSWORD": "bench-admin-password",
                "CENTRALINO_API_LISTEN": f"127.0.0.1:{free_port()}",
            }
            py = sys.executable
            subprocess.run(
                [py, "-m", "centralino_config_api", "migrate"],
                env=base_env,
                check=True,
                capture_output=True,
            )
            print(f"seeding {args.accounts} accounts ...", flush=True)
            t0 = time.monotonic()
            last = FIRST_ACCOUNT + args.accounts - 1
            seeded = subprocess.run(
                [
                    py,
                    "-m",
                    "centralino_config_api",
                    "seed-demo",
                    "--tenant",
                    "bench",
                    "--first",
                    str(FIRST_ACCOUNT),
                    "--last",
                    str(last),
                ],
                env=base_env,
                check=True,
                capture_output=True,
                text=True,
            )
            creds = [tuple(line.split()) for line in seeded.stdout.splitlines() if line.strip()]
            print(f"seeded in {time.monotonic() - t0:.1f} s", flush=True)
            children.append(subprocess.Popen([py, "-m", "centralino_config_api"], env=base_env))
            asyncio.run(healthy(config_grpc))

            ports = []
            for i in range(args.processes):
                port = free_port()
                ports.append(port)
                env = {
                    **base_env,
                    "CENTRALINO_SIP_HOST": "127.0.0.1",
                    "CENTRALINO_SIP_UDP_PORT": str(port),
                    "CENTRALINO_SIP_TCP_PORT": "-1",
                    "CENTRALINO_SIP_TLS_PORT": "-1",
                    "CENTRALINO_SIP_WS_PORT": "-1",
                    "CENTRALINO_SIP_WSS_PORT": "-1",
                    "CENTRALINO_REGISTRAR_GRPC": f"127.0.0.1:{free_port()}",
                    "CENTRALINO_REGISTRAR_INTERNAL_SIP": f"127.0.0.1:{free_port()}",
                    "CENTRALINO_REGISTRAR_RATE": "1000000",
                    "CENTRALINO_REGISTRAR_BURST": "1000000",
                    "CENTRALINO_INSTANCE_ID": f"registrar-bench-{i}",
                }
                children.append(subprocess.Popen([py, "-m", "centralino_registrar"], env=env))
            for port in ports:
                wait_options(port)
            asyncio.run(outbox_drained(pg.url))

            shares = [creds[i :: args.processes] for i in range(args.processes)]
            csvs = []
            for i, share in enumerate(shares):
                path = work / f"users-{i}.csv"
                users_csv(path, share)  # type: ignore[arg-type]
                csvs.append(path)

            procs = {
                "registrar": [psutil.Process(c.pid) for c in children[1:]],
                "config-api": [psutil.Process(children[0].pid)],
                "nats": [psutil.Process(nats.proc.pid)] if nats.proc else [],
                "postgres": [psutil.Process(pg.proc.pid)] if getattr(pg, "proc", None) else [],
            }
            for root in procs["postgres"][:]:
                procs["postgres"] += root.children(recursive=True)

            print(
                f"warm-up: every account once at {args.warmup_rate}/s (fills the account "
                "caches from config-api, creates the KV keys) ...",
                flush=True,
            )
            ok, failed, _ = run_sipp_step(
                ports, csvs, args.warmup_rate, args.accounts / args.warmup_rate, work, "warmup"
            )
            print(f"warm-up: {ok} registered, {failed} failed", flush=True)

            steps: list[Step] = []
            header = f"{'offered/s':>10} {'achieved/s':>11} {'ok':>7} {'failed':>7} {'fail%':>6}"
            names = [*procs, "sipp"]
            print(header + "".join(f" {n + ' %cpu':>15}" for n in names), flush=True)
            for rate in rates:
                before = cpu_seconds(procs)
                sipp_before = resource.getrusage(resource.RUSAGE_CHILDREN)
                ok, failed, elapsed = run_sipp_step(
                    ports, csvs, rate, args.seconds, work, f"r{rate}"
                )
                after = cpu_seconds(procs)
                sipp_after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = {n: 100 * (after[n] - before[n]) / elapsed for n in procs}
                # the SIPp processes are the only children reaped during the step
                busy = (sipp_after.ru_utime + sipp_after.ru_stime) - (
                    sipp_before.ru_utime + sipp_before.ru_stime
                )
                cpu["sipp"] = 100 * busy / elapsed
                step = Step(rate, ok, failed, elapsed, cpu)
                steps.append(step)
                print(
                    f"{rate:>10} {step.achieved:>11.0f} {ok:>7} {failed:>7} "
                    f"{100 * step.failure_ratio:>6.2f}"
                    + "".join(f" {cpu[n]:>15.0f}" for n in names),
                    flush=True,
                )
                if step.failure_ratio >= 0.005 or step.achieved < 0.9 * rate:
                    break
            good = [s for s in steps if s.failure_ratio < 0.005 and s.achieved >= 0.9 * s.offered]
            best = max((s.achieved for s in good), default=0.0)
            print(
                f"\nhighest REGISTER rate sustained with < 0.5% failures: {best:.0f}/s "
                f"({args.processes} registrar processes, {args.accounts} accounts, "
                f"{os.cpu_count()} CPUs)"
            )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            pg.stop()
            nats.stop()


if __name__ == "__main__":
    main()

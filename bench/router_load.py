"""Call load through the router with media anchored: the highest calls/s with < 0.5% failed
calls, where the CPU goes, and how many concurrent calls the suite holds.

    python bench/router_load.py                       # rate search, then 5,000 held calls
    python bench/router_load.py --rates 100,200,300 --step-seconds 10 --hold-calls 0

Real parts throughout: embedded NATS (JetStream) and PostgreSQL, config-api, media and
router as separate processes, SIPp as callers (on the router's internal listener, with the
identity headers the SIP edge adds) and as the devices (one SIPp UAS holding every callee's
location). Each call: INVITE, 180, 200 (media session allocated and both legs updated), ACK,
hold, BYE; call events published and a CDR row written. Callers and callees are spread over
``--extensions`` extensions each way, as real traffic is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import resource
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from centralino.bus import Bus
from centralino.runner.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from centralino.runner.supervisor import python_module_argv, wait_healthy
from centralino.v1 import registrar_pb2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from router.sipp import device_answers, udp_bound  # noqa: E402 - the tests' SIPp scenarios

ADMIN = "bench-admin-password"
TENANT = "bench"
RTP_RANGE = (10000, 31999)  # 4 ports per anchored call: 5,000 calls need 20,000

UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench caller">
  <send retrans="500"><![CDATA[
      INVITE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@bench>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field1]@bench>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      X-Centralino-Account: [field0]
      X-Centralino-Tenant: bench
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

v=0
o=- 1 2 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:[field0]@bench>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:[field0]@bench>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


@dataclass
class Proc:
    name: str
    proc: asyncio.subprocess.Process

    def cpu(self) -> float:
        try:
            times = psutil.Process(self.proc.pid).cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return float(times.user + times.system)


class Bench:
    def __init__(self, work: Path, extensions: int, profile: bool = False) -> None:
        self.work = work
        self.profile = profile
        self.extensions = extensions
        self.procs: list[Proc] = []
        self.nats = EmbeddedNats(work / "nats", free_port())
        self.pg = EmbeddedPostgres(work / "pg", free_port(), durable=False)
        self.router_sip = f"127.0.0.1:{free_port()}"
        self.uas_port = free_port()

    def start_infra(self) -> None:
        """NATS and PostgreSQL (before the event loop: their start-up runs its own)."""
        self.nats.start()
        self.pg.start()

    async def start(self) -> None:
        grpc = {name: f"127.0.0.1:{free_port()}" for name in ("config", "media", "router")}
        common = {
            **os.environ,
            "NATS_URL": self.nats.url,
            "DATABASE_URL": self.pg.url,
            "CENTRALINO_LOG_LEVEL": "WARNING",
            "CENTRALINO_CONFIG_GRPC": grpc["config"],
            "CENTRALINO_MEDIA_GRPC": grpc["media"],
            "CENTRALINO_ROUTER_GRPC": grpc["router"],
            "CENTRALINO_SECRET_KEY": secrets.token_urlsafe(32),
            "CENTRALINO_ADMIN_PASSWORD": ADMIN,
        }
        self.api_port = free_port()
        specs: list[tuple[str, str, dict[str, str]]] = [
            (
                "config-api",
                "centralino_config_api",
                {"CENTRALINO_API_LISTEN": f"127.0.0.1:{self.api_port}"},
            ),
            (
                "media",
                "centralino_media",
                {
                    "CENTRALINO_RTP_PORT_MIN": str(RTP_RANGE[0]),
                    "CENTRALINO_RTP_PORT_MAX": str(RTP_RANGE[1]),
                    "CENTRALINO_MEDIA_INACTIVITY_SECONDS": "3600",
                },
            ),
            ("router", "centralino_router", {"CENTRALINO_ROUTER_SIP": self.router_sip}),
        ]
        for name, module, extra in specs:
            log = (self.work / f"{name}.log").open("w")
            argv = python_module_argv(module)
            if name == "router" and self.profile:
                argv = [
                    sys.executable,
                    "-m",
                    "cProfile",
                    "-o",
                    str(self.work / "router.prof"),
                    "-m",
                    module,
                ]
            proc = await asyncio.create_subprocess_exec(
                *argv, env={**common, **extra}, stdout=log, stderr=log
            )
            self.procs.append(Proc(name, proc))
            key = {"config-api": "config"}.get(name, name)
            await wait_healthy(name, grpc[key], None, 60)

    async def provision(self) -> None:
        base = f"http://127.0.0.1:{self.api_port}/api/v1"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                base + "/auth/login", json={"username": "admin", "password": ADMIN}
            ) as r:
                token = (await r.json())["token"]
            auth = {"Authorization": f"Bearer {token}"}

            async def post(path: str, body: dict[str, Any]) -> None:
                async with http.post(base + path, json=body, headers=auth) as r:
                    if r.status != 201:
                        raise RuntimeError(f"{path}: {r.status} {await r.text()}")

            await post("/tenants", {"id": TENANT, "name": "Bench"})
            for i in range(self.extensions):
                for number, user in ((2000 + i, f"c{i}"), (3000 + i, f"d{i}")):
                    await post(
                        f"/tenants/{TENANT}/extensions",
                        {"number": str(number), "first_name": "B", "last_name": user},
                    )
                    await post(
                        f"/tenants/{TENANT}/accounts",
                        {"username": user, "password": "Secret12345", "extension": str(number)},
                    )
        bus = await Bus.connect(self.nats.url, "bench")
        kv = await bus.kv("locations")
        at = f"127.0.0.1:{self.uas_port}"
        for i in range(self.extensions):
            loc = registrar_pb2.Location(
                tenant=TENANT,
                username=f"d{i}",
                contact=f"sip:d{i}@{at}",
                expires_unix_ms=int((time.time() + 86400) * 1000),
                registrar_sip=at,
            )
            await kv.put(f"d{i}", loc.SerializeToString())
        await bus.close()
        users = self.work / "callers.csv"
        users.write_text(
            "SEQUENTIAL\n" + "".join(f"c{i};{3000 + i}\n" for i in range(self.extensions))
        )
        self.users = users

    async def start_uas(self) -> None:
        scenario = self.work / "uas.xml"
        scenario.write_text(device_answers(0))
        log = (self.work / "uas.log").open("w")
        proc = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.uas_port),
            "-mp",
            str(free_port()),
            "-nostdin",
            "-max_socket",
            "60000",
            stdout=log,
            stderr=log,
        )
        self.procs.append(Proc("sipp-uas", proc))
        while not udp_bound(self.uas_port):
            if proc.returncode is not None:
                raise RuntimeError(f"sipp UAS exited; see {self.work / 'uas.log'}")
            await asyncio.sleep(0.05)

    async def run_step(self, rate: int, calls: int, hold_ms: int, timeout: int) -> dict[str, Any]:
        scenario = self.work / f"uac-{rate}-{hold_ms}.xml"
        scenario.write_text(UAC.replace("{hold_ms}", str(hold_ms)))
        stat = self.work / f"uac-{rate}-{hold_ms}.csv"
        before = {p.name: p.cpu() for p in self.procs}
        infra_before = _infra_cpu()
        started = time.monotonic()
        uac = await asyncio.create_subprocess_exec(
            "sipp",
            self.router_sip,
            "-sf",
            str(scenario),
            "-inf",
            str(self.users),
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-mp",
            str(free_port()),
            "-r",
            str(rate),
            "-m",
            str(calls),
            "-l",
            "20000",
            "-nostdin",
            "-timeout",
            f"{timeout}s",
            "-timeout_error",
            "-max_socket",
            "60000",
            "-trace_stat",
            "-stf",
            str(stat),
            "-fd",
            "1",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        peak = 0
        while uac.returncode is None:
            with contextlib.suppress(TimeoutError):  # sample the stats once a second
                await asyncio.wait_for(uac.wait(), 1)
            rows = _rows(stat)
            if rows:
                peak = max(peak, int(rows[-1].get("CurrentCall", 0) or 0))
        elapsed = time.monotonic() - started
        cpu = {p.name: p.cpu() - before[p.name] for p in self.procs}
        cpu.update({k: v - infra_before.get(k, 0.0) for k, v in _infra_cpu().items()})
        last = _rows(stat)[-1] if _rows(stat) else {}
        ok = int(last.get("SuccessfulCall(C)", 0) or 0)
        failed = int(last.get("FailedCall(C)", 0) or 0)
        # calls are placed over (elapsed - hold): the rate SIPp really achieved, which is
        # below the offered one as soon as anything (SIPp included) runs out of CPU
        placing = max(0.001, elapsed - hold_ms / 1000)
        return {
            "achieved": ok / placing,
            "rate": rate,
            "calls": calls,
            "ok": ok,
            "failed": failed,
            "failed_pct": 100.0 * failed / max(1, ok + failed),
            "elapsed": elapsed,
            "cpu": cpu,
            "peak_concurrent": peak,
        }

    async def stop(self) -> None:
        for p in reversed(self.procs):
            if p.proc.returncode is None:
                p.proc.terminate()
                try:
                    await asyncio.wait_for(p.proc.wait(), 10)
                except TimeoutError:
                    p.proc.kill()
                    await p.proc.wait()


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f, delimiter=";"))


def _infra_cpu() -> dict[str, float]:
    """CPU seconds of the embedded NATS and PostgreSQL processes."""
    totals: dict[str, float] = {"nats": 0.0, "postgres": 0.0}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        name = proc.info["name"] or ""
        key = "nats" if name.startswith("nats-server") else "postgres" if "postgres" in name else ""
        if key and proc.info["cpu_times"] is not None:
            totals[key] += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return totals


def _print_step(step: dict[str, Any]) -> None:
    cpu = step["cpu"]
    split = ", ".join(f"{k} {max(0.0, v) / step['elapsed'] * 100:.0f}%" for k, v in cpu.items())
    print(
        f"{step['rate']:>5} calls/s offered, {step['achieved']:.0f} achieved: "
        f"{step['ok']}/{step['calls']} ok, "
        f"{step['failed_pct']:.2f}% failed, peak {step['peak_concurrent']} concurrent, "
        f"{step['elapsed']:.1f}s | CPU of one core: {split}",
        flush=True,
    )


async def run(bench: Bench, args: argparse.Namespace) -> None:
    try:
        await bench.start()
        await bench.provision()
        await bench.start_uas()
        best = 0
        for rate in [int(r) for r in args.rates.split(",")]:
            step = await bench.run_step(
                rate, rate * args.step_seconds, 1000, args.step_seconds + 60
            )
            _print_step(step)
            if step["failed_pct"] >= 0.5 or step["ok"] + step["failed"] < step["calls"]:
                break
            best = max(best, int(step["achieved"]))
            if step["achieved"] < 0.95 * rate:
                break  # saturated: offering more only queues calls
        print(f"highest achieved rate with < 0.5% failed calls: {best} calls/s", flush=True)
        if args.hold_calls:
            rate = args.hold_rate
            hold_ms = int(args.hold_calls / rate * 1000) + 10_000
            step = await bench.run_step(rate, args.hold_calls, hold_ms, hold_ms // 1000 + 120)
            _print_step(step)
            print(
                f"concurrent calls held: {step['peak_concurrent']} "
                f"({step['ok']} completed, {step['failed']} failed)",
                flush=True,
            )
    finally:
        await bench.stop()


def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    bench = Bench(work, args.extensions, args.profile)
    try:
        bench.start_infra()
        asyncio.run(run(bench, args))
    finally:
        bench.nats.stop()
        bench.pg.stop()
        if args.keep:
            print(f"logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,100,200,300,400,600")
    parser.add_argument("--step-seconds", type=int, default=10)
    parser.add_argument("--extensions", type=int, default=100)
    parser.add_argument("--hold-calls", type=int, default=5000)
    parser.add_argument("--hold-rate", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the work folder and logs")
    parser.add_argument("--profile", action="store_true", help="cProfile the router (--keep)")
    main(parser.parse_args())

"""`centralino up`: the whole suite comes up on embedded defaults, is healthy, talks over
NATS, and leaves nothing behind when stopped (the foundation's smoke test)."""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import psutil
import pytest
from phones import Baresip, peak_hz, write_tone

from centralino.grpcserver import check_health
from centralino.runner.layout import SERVICES, Layout
from centralino.runner.supervisor import wait_healthy
from centralino.v1 import common_pb2

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 120


@dataclass
class RunningSuite:
    proc: subprocess.Popen[str]
    layout: Layout
    data_dir: Path
    banner: str
    output: queue.Queue[str | None]


def _listening(ports: set[int]) -> list[int]:
    return sorted(
        c.laddr.port
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    )


def _stop_runner(proc: subprocess.Popen[str]) -> None:
    """SIGTERM first: a SIGKILLed runner cannot stop its embedded NATS and PostgreSQL."""
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def suite() -> Iterator[RunningSuite]:
    layout = Layout.ephemeral()
    data_dir = Path(tempfile.mkdtemp(prefix="centralino-up-"))
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env.update(layout.service_env())
    env.update(
        CENTRALINO_NATS_PORT=str(layout.nats_port),
        CENTRALINO_POSTGRES_PORT=str(layout.postgres_port),
        CENTRALINO_ADMIN_PASSWORD="smoke-test-admin",
        CENTRALINO_HEARTBEAT_SECONDS="0.5",
    )
    proc = subprocess.Popen(
        [str(BIN / "centralino"), "up", "--data", str(data_dir), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [*map(lines.put, stdout), lines.put(None)], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_SECONDS
    while "Press Ctrl-C to stop." not in "".join(seen[-1:]):  # the banner's last line
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            _stop_runner(proc)
            pytest.fail("centralino up did not come up:\n" + "".join(seen))
        seen.append(line)
    running = RunningSuite(proc, layout, data_dir, "".join(seen), lines)
    yield running
    if proc.poll() is None:  # a test failed before the SIGTERM test
        _stop_runner(proc)


def test_banner_says_where_phones_and_admins_connect(suite: RunningSuite) -> None:
    lay = suite.layout
    assert f"udp:127.0.0.1:{lay.sip_udp}" in suite.banner
    assert f"tls:127.0.0.1:{lay.sip_tls}" in suite.banner
    assert f"ws://127.0.0.1:{lay.sip_ws}" in suite.banner
    assert f"http://127.0.0.1:{lay.api_port}/api/v1" in suite.banner
    assert "password 'smoke-test-admin'" in suite.banner


def test_demo_tenant_credentials_are_printed_and_saved(suite: RunningSuite) -> None:
    saved = (suite.data_dir / "demo-credentials.txt").read_text().split("\n")
    users = [line.split()[0] for line in saved if line.strip() and not line.startswith("#")]
    assert users == [str(n) for n in range(200, 210)]
    for line in saved:
        if line.strip() and not line.startswith("#"):
            user, password = line.split()[:2]
            assert f"username {user} password {password}" in suite.banner


async def test_every_service_reports_serving(suite: RunningSuite) -> None:
    results = await asyncio.gather(
        *(check_health(f"127.0.0.1:{suite.layout.grpc[name]}") for name in SERVICES)
    )
    assert dict(zip(SERVICES, results, strict=True)) == dict.fromkeys(SERVICES, True)


async def test_services_talk_over_nats(suite: RunningSuite) -> None:
    """Every service publishes heartbeats on the bus; all of them are heard."""
    nc = await nats.connect(f"nats://127.0.0.1:{suite.layout.nats_port}")
    heard: set[str] = set()
    done = asyncio.Event()

    async def on_beat(msg: nats.aio.msg.Msg) -> None:
        beat = common_pb2.ServiceHeartbeat.FromString(msg.data)
        heard.add(beat.service)
        if heard >= set(SERVICES):
            done.set()

    await nc.subscribe("sys.centralino.heartbeat.*", cb=on_beat)
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await nc.close()
    assert heard >= set(SERVICES)


MIBS = Path(__file__).resolve().parent.parent / "services" / "directory" / "mibs"


async def _registered_accounts(suite: RunningSuite, wanted: int, timeout: float = 15) -> int:
    """cnRegisteredAccounts as the directory's SNMP agent reports it; the directory counts
    the registrar's location events, so this crosses registrar -> NATS -> directory."""
    deadline = time.monotonic() + timeout
    value = -1
    while time.monotonic() < deadline:
        proc = await asyncio.create_subprocess_exec(
            "snmpget",
            "-v2c",
            "-c",
            "public",
            "-Oqv",
            "-M",
            f"+{MIBS}",
            "-m",
            "+CENTRALINO-MIB",
            f"127.0.0.1:{suite.layout.snmp_port}",
            "CENTRALINO-MIB::cnRegisteredAccounts.0",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        text = out.decode().strip()
        if text.isdigit():
            value = int(text)
            if value == wanted:
                return value
        await asyncio.sleep(0.2)  # the agent offers no change notification to wait on
    return value


async def _heard(phone: Baresip, seconds: float, timeout: float = 10) -> None:
    """Wait until ``phone`` has recorded ``seconds`` of received audio (8 kHz, 16 bit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dumps = list(phone.dir.glob("dump-*-dec.wav"))
        if dumps and max(d.stat().st_size for d in dumps) > 44 + 16000 * seconds:
            return
        await asyncio.sleep(0.1)  # a file growing: there is no event to wait on
    raise AssertionError(f"{phone.dir.name} heard less than {seconds} s of audio")


def _demo_password(suite: RunningSuite, user: str) -> str:
    for line in (suite.data_dir / "demo-credentials.txt").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == user:
            return fields[1]
    raise AssertionError(f"no demo account {user}")


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")
async def test_two_demo_phones_call_each_other_with_audio(
    suite: RunningSuite, tmp_path: Path
) -> None:
    """The README's promise: after `make run`, extension 200 calls 201 and both hear audio
    (EXT-01, EXT-04, REG-01, ACC-02, FEAT-02) through registrar, router and media."""
    ports = itertools.count(45700, 3)
    registrar = f"127.0.0.1:{suite.layout.sip_udp}"
    write_tone(tmp_path / "a.wav", 3, 1000)  # 200 hangs up when its file ends
    write_tone(tmp_path / "b.wav", 30, 440)
    a = Baresip(
        tmp_path / "a",
        "200",
        _demo_password(suite, "200"),
        registrar,
        37000,
        tmp_path / "a.wav",
        lambda: next(ports),
    )
    b = Baresip(
        tmp_path / "b",
        "201",
        _demo_password(suite, "201"),
        registrar,
        37100,
        tmp_path / "b.wav",
        lambda: next(ports),
    )
    try:
        await a.start()
        await b.start()
        await a.expect(r"200 OK .*\[1 binding\]")
        await b.expect(r"200 OK .*\[1 binding\]")
        if shutil.which("snmpget"):  # registrar -> NATS -> directory -> SNMP
            assert await _registered_accounts(suite, wanted=2) == 2
        await a.command("dial", f"sip:201@{registrar}")
        await a.expect(r"Call established")
        await b.expect(r"Call established")
        await b.expect(r"terminated \(duration", timeout=20)
    finally:
        await a.stop()
        await b.stop()
    hz, seconds = peak_hz(b.received())
    assert abs(hz - 1000) < 10 and seconds > 2.5, (hz, seconds)
    assert abs(peak_hz(a.received())[0] - 440) < 10


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")
async def test_a_real_phone_blind_transfers_the_caller_with_audio(
    suite: RunningSuite, tmp_path: Path
) -> None:
    """200 calls 201, 201 transfers 200 to 202 with its transfer command (REFER through the
    SIP edge); 202 answers the router's offerless INVITE and then hears 200 (issue 7)."""
    ports = itertools.count(45800, 3)
    registrar = f"127.0.0.1:{suite.layout.sip_udp}"
    write_tone(tmp_path / "a.wav", 8, 1000)  # 200 hangs up when its file ends
    write_tone(tmp_path / "b.wav", 30, 440)
    write_tone(tmp_path / "c.wav", 30, 2000)
    phones = [
        Baresip(
            tmp_path / name,
            user,
            _demo_password(suite, user),
            registrar,
            rtp,
            tmp_path / f"{name}.wav",
            lambda: next(ports),
        )
        for name, user, rtp in (("a", "200", 37200), ("b", "201", 37300), ("c", "202", 37400))
    ]
    a, b, c = phones
    try:
        for phone in phones:
            await phone.start()
        for phone in phones:
            await phone.expect(r"200 OK .*\[1 binding\]")
        await a.command("dial", f"sip:201@{registrar}")
        await b.expect(r"Call established")
        # 201 hears 200 first; baresip names its recordings by the second, so a re-INVITE
        # within the call's first second would overwrite 200's recording
        await _heard(b, seconds=1.2)
        await b.command("transfer", f"sip:202@{registrar}")
        await c.expect(r"Call established")
        await c.expect(r"terminated \(duration", timeout=20)
    finally:
        for phone in phones:
            await phone.stop()
    hz, seconds = peak_hz(c.received())
    assert abs(hz - 1000) < 10 and seconds > 3, (hz, seconds)
    assert abs(peak_hz(a.received())[0] - 2000) < 10  # after the transfer 200 hears 202


async def test_a_crashed_service_is_restarted_and_logged(suite: RunningSuite) -> None:
    runner = psutil.Process(suite.proc.pid)
    [media] = [p for p in runner.children() if "centralino_media" in " ".join(p.cmdline())]
    media.kill()
    deadline = time.monotonic() + 30
    seen = []
    while not any("media exited with code -9; restarting" in line for line in seen):
        line = await asyncio.to_thread(suite.output.get, True, deadline - time.monotonic())
        assert line is not None, seen
        seen.append(line)
    await wait_healthy("media", f"127.0.0.1:{suite.layout.grpc['media']}", None, 60)
    [again] = [p for p in runner.children() if "centralino_media" in " ".join(p.cmdline())]
    assert again.pid != media.pid


def test_sigterm_stops_everything_and_frees_every_port(suite: RunningSuite) -> None:
    runner = psutil.Process(suite.proc.pid)
    children = runner.children(recursive=True)
    lay = suite.layout
    ports = {lay.nats_port, lay.postgres_port, lay.api_port, lay.sip_tcp, *lay.grpc.values()}
    assert {lay.nats_port, lay.postgres_port, *lay.grpc.values()} <= set(_listening(ports))
    assert len(children) >= len(SERVICES) + 2  # services + nats-server + postgres
    suite.proc.send_signal(signal.SIGTERM)
    assert suite.proc.wait(timeout=60) == 0
    rest = []
    while (line := suite.output.get(timeout=5)) is not None:
        rest.append(line)
    assert "no process left behind" in "".join(rest)
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert _listening(ports) == []

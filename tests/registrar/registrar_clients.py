"""Driving real SIP clients (SIPp, baresip, sipvicious) against the registrar."""

from __future__ import annotations

import asyncio
import csv
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SIPP_DIR = HERE / "sipp"

# client ports for this area's tests (45000-45999 is for SIP clients; 454xx is ours):
# signalling in the lower half, SIPp's media sockets in the upper half
SIGNALLING_PORTS = range(45400, 45450)
MEDIA_PORTS = range(45450, 45500)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (see .ci/apt-packages.txt)")
    return path


def free_client_port(
    span: int = 1, kinds: tuple[int, ...] = (socket.SOCK_DGRAM,), ports: range = SIGNALLING_PORTS
) -> int:
    """A port of ``ports`` where ``span`` consecutive ports are free for ``kinds``."""
    for base in ports:
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + span):
                for kind in kinds:
                    s = socket.socket(socket.AF_INET, kind)
                    sockets.append(s)
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError(f"no free client port in {ports}")


def users_csv(path: Path, passwords: dict[str, str]) -> Path:
    lines = ["SEQUENTIAL"] + [
        f"{u};[authentication username={u} password={p}]" for u, p in passwords.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def run_sipp(
    target: tuple[str, int],
    scenario: str,
    inf: Path,
    calls: int,
    *,
    rate: int,
    transport: str = "u1",
    workdir: Path,
    timeout: float = 30,
) -> dict[str, str]:
    """Run SIPp to completion; returns the last row of its statistics file."""
    need("sipp")
    port = free_client_port(1, (socket.SOCK_DGRAM, socket.SOCK_STREAM))
    media = free_client_port(4, ports=MEDIA_PORTS)
    stats = workdir / f"sipp-{port}.csv"
    cmd = [
        "sipp",
        f"{target[0]}:{target[1]}",
        "-sf",
        str(SIPP_DIR / scenario),
        "-inf",
        str(inf),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(max(rate, 10)),
        "-t",
        transport,
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-mp",
        str(media),
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        str(workdir / f"sipp-{port}-err.log"),
    ]
    process = await asyncio.create_subprocess_exec(
        *cmd, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout + 15)
    rows = list(csv.DictReader(stats.read_text().splitlines(), delimiter=";"))
    last = rows[-1]
    last["returncode"] = str(process.returncode)
    last["output"] = out.decode(errors="replace")[-3000:]
    return last


class Baresip:
    """One headless baresip instance (see the real-clients guide)."""

    CONFIG = """\
net_interface\t\t127.0.0.1
sip_listen\t\t127.0.0.1:{sip}
rtp_ports\t\t{rtp}-{rtp_end}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
sip_trans_def\t\t{transport}
"""

    def __init__(self, workdir: Path, account: str) -> None:
        need("baresip")
        sip = free_client_port(2, (socket.SOCK_DGRAM, socket.SOCK_STREAM))
        rtp = 45900 + (sip - 45400) % 25 * 4
        os.makedirs(workdir, exist_ok=True)
        (workdir / "config").write_text(
            self.CONFIG.format(sip=sip, rtp=rtp, rtp_end=rtp + 3, transport="udp")
        )
        (workdir / "accounts").write_text(account + "\n")
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            ["baresip", "-f", str(workdir), "-t", "60"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(
            target=lambda: [self.lines.put(line) for line in stdout], daemon=True
        ).start()
        self.sip_port = sip

    def expect(self, pattern: str, timeout: float = 10) -> str:
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if re.search(pattern, line):
                return line
        raise TimeoutError(f"{pattern!r} not seen; baresip said: {''.join(seen)[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

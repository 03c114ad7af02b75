"""Running the real SIP clients (SIPp, sipsak, baresip, Chromium) from asyncio tests.

Subprocesses are asyncio ones so the server under test keeps running on the test's loop
while the client talks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (Debian package listed in .ci/apt-packages.txt)")
    return path


async def run(*argv: str, timeout: float = 30.0, cwd: Path | None = None) -> tuple[int, str]:
    """Run to completion; returns (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        tail = out.decode(errors="replace")[-3000:]
        raise AssertionError(f"{argv[0]} did not finish in {timeout} s:\n{tail}") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def sipp_stats(path: Path) -> dict[str, str]:
    """The last row of a SIPp ``-trace_stat`` CSV (cumulative counters end in ``(C)``)."""
    with path.open() as f:
        return list(csv.DictReader(f, delimiter=";"))[-1]


async def sipp(
    scenario: str,
    target: tuple[str, int],
    *,
    transport: str,
    calls: int,
    port: int,
    media_port: int,
    workdir: Path,
    rate: int = 20,
) -> dict[str, str]:
    need("sipp")
    stats = workdir / f"{Path(scenario).stem}-{transport}.csv"
    code, out = await run(
        "sipp", f"{target[0]}:{target[1]}",
        "-sf", str(SCENARIOS / scenario),
        "-t", "u1" if transport == "udp" else "t1",
        "-m", str(calls), "-r", str(rate),
        "-i", "127.0.0.1", "-p", str(port), "-mp", str(media_port),
        "-nostdin", "-timeout", "20s", "-timeout_error",
        "-trace_stat", "-stf", str(stats), "-fd", "1",
        "-trace_err", "-error_file", str(workdir / "sipp-errors.log"),
        cwd=workdir,
        timeout=30,
    )  # fmt: skip
    errors = workdir / "sipp-errors.log"
    detail = errors.read_text()[-2000:] if errors.exists() else ""
    assert code == 0, f"sipp exit {code}:\n{out[-2000:]}\n{detail}"
    return sipp_stats(stats)


class LineReader:
    """Lines of a running process's combined output, matched by regex with a deadline."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[str] = []

    async def expect(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        assert self.proc.stdout is not None
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(timeout):
                while line := (await self.proc.stdout.readline()).decode(errors="replace"):
                    self.seen.append(line)
                    if m := regex.search(line):
                        return m
        except TimeoutError:
            pass
        raise AssertionError(f"no line matching {pattern!r}; output:\n{''.join(self.seen)[-3000:]}")


@contextlib.asynccontextmanager
async def process(*argv: str, env: dict[str, str] | None = None) -> AsyncIterator[LineReader]:
    """A long-running client; SIGTERM at the end, SIGKILL if it lingers."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield LineReader(proc)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.communicate()
            except TimeoutError:
                proc.kill()
                await proc.communicate()

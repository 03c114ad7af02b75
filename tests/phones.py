"""Real softphones for end-to-end tests: baresip driven headlessly (see the real-clients
guide), plus tone helpers to check what a phone heard."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

BARESIP_CONFIG = """\
net_interface\t\t127.0.0.1
sip_listen\t\t127.0.0.1:{sip}
audio_source\t\taufile,{wav}
ausrc_srate\t\t8000
ausrc_channels\t\t1
rtp_ports\t\t{rtp}-{rtp_end}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\tsndfile.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t127.0.0.1:{ctrl}
snd_path\t\t{dir}
"""


def write_tone(path: Path, seconds: float, hz: float, rate: int = 8000) -> None:
    x = 16000 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())


def peak_hz(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        rate = w.getframerate()
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()]), len(x) / rate


def _tcp_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Baresip:
    def __init__(
        self,
        directory: Path,
        user: str,
        password: str,
        registrar: str,
        rtp: int,
        wav: Path,
        sip_port: Callable[[], int],
    ) -> None:
        directory.mkdir(parents=True)
        self.dir = directory
        # baresip takes UDP+TCP on its port and TLS on the next one; control goes on the third
        self.sip = sip_port()
        while not all(_tcp_free(self.sip + i) for i in range(3)):
            self.sip = sip_port()
        sip_port(), sip_port()
        self.ctrl = self.sip + 2
        (directory / "config").write_text(
            BARESIP_CONFIG.format(
                sip=self.sip, wav=wav, rtp=rtp, rtp_end=rtp + 99, ctrl=self.ctrl, dir=directory
            )
        )
        (directory / "accounts").write_text(
            f"<sip:{user}@{registrar}>;auth_pass={password};answermode=auto;"
            "audio_codecs=pcma,pcmu\n"
        )
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.log: list[str] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(self.dir),
            "-t",
            "60",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.log.append(line)
            await self.lines.put(line)

    async def expect(self, pattern: str, timeout: float = 15) -> str:
        async def find() -> str:
            while True:
                line = await self.lines.get()
                if re.search(pattern, line):
                    return line

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise AssertionError(f"{pattern!r} not seen:\n{''.join(self.log[-40:])}") from None

    async def command(self, command: str, params: str = "") -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctrl)
        body = json.dumps({"command": command, "params": params, "token": "1"}).encode()
        writer.write(b"%d:%s," % (len(body), body))
        await writer.drain()
        await reader.read(4096)
        writer.close()

    def received(self) -> Path:
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        assert dumps, f"no recording in {self.dir}"
        return dumps[-1]

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

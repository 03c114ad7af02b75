"""Two real baresip phones in a call through the media service (FEAT-02, FEAT-03, ACC-16).

A (PCMA, SRTP mandatory) calls B (Opus, plain RTP). The signalling in between is a minimal
test-only B2BUA written here (the router is another component): it forwards the call,
hands each phone's SDP to MediaService.UpdateLeg and gives each phone the media service's
SDP. Both phones record what they receive; each must hear the other's tone.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from centralino.v1 import media_pb2
from centralino_media.simphone import peak_frequency

from .conftest import Running

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed"),
]

HOST = "127.0.0.1"
B2BUA_PORT, SIP_A, SIP_B = 30790, 30700, 30702
RTP_A, RTP_B = 30710, 30750

CONFIG = """\
net_interface\t\t127.0.0.1
sip_listen\t\t127.0.0.1:{sip}
audio_source\t\taufile,{wav}
ausrc_srate\t\t8000
ausrc_channels\t\t1
rtp_ports\t\t{rtp}-{rtp_end}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tstdio.so
module\t\t\tg711.so
module\t\t\topus.so
module\t\t\tsrtp.so
module\t\t\taufile.so
module\t\t\tsndfile.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
snd_path\t\t{dir}
"""


def _write_tone(path: Path, seconds: float, freq: float, rate: int = 8000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((12000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())


def _read_wav(directory: Path) -> tuple[np.ndarray, int]:
    [path] = sorted(directory.glob("dump-*-dec.wav"))[-1:]
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        if w.getnchannels() == 2:
            pcm = pcm[::2]
        return pcm, w.getframerate()


class Baresip:
    def __init__(self, directory: Path, account: str, sip: int, rtp: int, wav: Path) -> None:
        directory.mkdir()
        (directory / "config").write_text(
            CONFIG.format(sip=sip, rtp=rtp, rtp_end=rtp + 39, wav=wav, dir=directory)
        )
        (directory / "accounts").write_text(account + "\n")
        self.directory = directory
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(self.directory), "-t", "60",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.put_nowait(line.decode(errors="replace"))

    async def expect(self, pattern: str, timeout: float = 15) -> str:
        async def find() -> str:
            while True:
                line = await self.lines.get()
                if re.search(pattern, line):
                    return line

        return await asyncio.wait_for(find(), timeout)

    def command(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def _headers(message: str) -> tuple[str, dict[str, list[str]], str]:
    head, _, body = message.partition("\r\n\r\n")
    first, *lines = head.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return first, headers, body


def _build(first: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [first, *(f"{n}: {v}" for n, v in headers)]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class SipB2bua(asyncio.DatagramProtocol):
    """Just enough SIP (RFC 3261) for one call A→B over UDP, anchored on the media service."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.transport: asyncio.DatagramTransport | None = None
        self.session_id = ""
        self.a_invite: tuple[dict[str, list[str]], tuple[str, int]] | None = None
        self.b_to = ""
        self.b_call_id = f"b-{uuid.uuid4().hex}"
        self.b_contact = f"sip:bob@{HOST}:{SIP_B}"
        self.answered = asyncio.Event()
        self.done = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self.handle(data, addr)))

    def _reply(self, headers: dict[str, list[str]], status: str, addr: tuple[str, int],
               body: bytes = b"", to_tag: str = "") -> None:  # fmt: skip
        to = headers["to"][0] + (
            f";tag={to_tag}" if to_tag and "tag=" not in headers["to"][0] else ""
        )
        fields = [("Via", v) for v in headers["via"]] + [
            ("From", headers["from"][0]), ("To", to), ("Call-ID", headers["call-id"][0]),
            ("CSeq", headers["cseq"][0]), ("Contact", f"<sip:pbx@{HOST}:{B2BUA_PORT}>"),
        ]  # fmt: skip
        self.send(_build(f"SIP/2.0 {status}", fields, body), addr)

    def _to_b(self, method: str, cseq: int, body: bytes = b"") -> None:
        uri = self.b_contact if self.b_to else f"sip:bob@{HOST}:{SIP_B}"
        fields = [
            ("Via", f"SIP/2.0/UDP {HOST}:{B2BUA_PORT};branch=z9hG4bK{uuid.uuid4().hex[:12]}"),
            ("Max-Forwards", "70"), ("From", f"<sip:pbx@{HOST}:{B2BUA_PORT}>;tag=pbx-b"),
            ("To", self.b_to or f"<sip:bob@{HOST}:{SIP_B}>"), ("Call-ID", self.b_call_id),
            ("CSeq", f"{cseq} {method}"), ("Contact", f"<sip:pbx@{HOST}:{B2BUA_PORT}>"),
        ]  # fmt: skip
        self.send(_build(f"{method} {uri} SIP/2.0", fields, body), (HOST, SIP_B))

    async def handle(self, data: bytes, addr: tuple[str, int]) -> None:
        first, headers, body = _headers(data.decode(errors="replace"))
        stub = self.running.stub
        if first.startswith("INVITE") and self.a_invite is None:
            self.a_invite = (headers, addr)
            self._reply(headers, "100 Trying", addr)
            session = await stub.Allocate(
                media_pb2.AllocateRequest(
                    call_id=headers["call-id"][0], owner="test-b2bua",
                    legs=[
                        media_pb2.LegSpec(name="a", codecs=["PCMA"], srtp=True,
                                          signalling_tls=True),
                        media_pb2.LegSpec(name="b", codecs=["OPUS"]),
                    ],
                )
            )  # fmt: skip
            self.session_id = session.session_id
            await stub.UpdateLeg(
                media_pb2.UpdateLegRequest(session_id=self.session_id, leg="a",
                                           remote_sdp=body.encode(), remote_is_offer=True)
            )  # fmt: skip
            self._to_b("INVITE", 1, session.legs[1].local_sdp)
        elif first.startswith("SIP/2.0 200") and "INVITE" in headers["cseq"][0]:
            if not self.b_to:
                self.b_to = headers["to"][0]
                contact = re.search(r"<([^>]+)>", headers.get("contact", [""])[0])
                if contact:
                    self.b_contact = contact.group(1)
                answer = await stub.UpdateLeg(
                    media_pb2.UpdateLegRequest(session_id=self.session_id, leg="b",
                                               remote_sdp=body.encode())
                )  # fmt: skip
                assert self.a_invite is not None
                a_headers, a_addr = self.a_invite
                self._reply(a_headers, "200 OK", a_addr, answer.legs[0].local_sdp, "pbx-a")
                self.answered.set()
            self._to_b("ACK", 1)
        elif first.startswith("BYE"):
            self._reply(headers, "200 OK", addr)
            self._to_b("BYE", 2)
        elif first.startswith("SIP/2.0 200") and "BYE" in headers["cseq"][0]:
            self.done.set()


@pytest.fixture
async def b2bua(media: Running) -> AsyncIterator[SipB2bua]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: SipB2bua(media), local_addr=(HOST, B2BUA_PORT)
    )
    yield proto
    transport.close()


async def test_baresip_srtp_pcma_calls_baresip_opus_through_relay(
    b2bua: SipB2bua, media: Running, tmp_path: Path
) -> None:
    _write_tone(tmp_path / "a.wav", 3.0, 1000)  # A hangs up when its file ends
    _write_tone(tmp_path / "b.wav", 30.0, 440)
    a = Baresip(
        tmp_path / "a",
        f"<sip:alice@{HOST}:{B2BUA_PORT}>;regint=0;mediaenc=srtp-mand;audio_codecs=pcma",
        SIP_A, RTP_A, tmp_path / "a.wav",
    )  # fmt: skip
    b = Baresip(
        tmp_path / "b",
        f"<sip:bob@{HOST}:{B2BUA_PORT}>;regint=0;answermode=auto;audio_codecs=opus/48000/2",
        SIP_B, RTP_B, tmp_path / "b.wav",
    )  # fmt: skip
    try:
        await a.start()
        await b.start()
        await a.expect(r"baresip is ready")
        await b.expect(r"baresip is ready")
        a.command(f"/dial sip:bob@{HOST}:{B2BUA_PORT}")
        await asyncio.wait_for(b2bua.answered.wait(), 15)
        state = await media.stub.GetSession(
            media_pb2.GetSessionRequest(session_id=b2bua.session_id)
        )
        assert state.transcoding
        assert [(leg.codec, leg.srtp) for leg in state.legs] == [("PCMA", True), ("OPUS", False)]
        await a.expect(r"SRTP is Enabled", 10)
        await asyncio.wait_for(b2bua.done.wait(), 20)
        await b.expect(r"terminated", 10)
        await a.expect(r"terminated", 10)
    finally:
        await a.stop()
        await b.stop()
        if b2bua.session_id:
            await media.stub.Release(media_pb2.ReleaseRequest(session_id=b2bua.session_id))
    heard_by_b, rate_b = _read_wav(tmp_path / "b")
    heard_by_a, rate_a = _read_wav(tmp_path / "a")
    assert len(heard_by_b) / rate_b > 2.0
    assert abs(peak_frequency(heard_by_b[rate_b // 2 :], rate_b) - 1000) < 15
    assert abs(peak_frequency(heard_by_a[rate_a // 2 :], rate_a) - 440) < 15

"""SIPp scenarios for the router's end-to-end tests, and a runner.

Callers talk straight to the router's internal listener, carrying the identity headers
the SIP edge would add (ADR 0001). Devices are SIPp UAS instances whose address is the
``registrar_sip`` of their stored location, so each forked branch reaches its own one.
"""

from __future__ import annotations

import asyncio
import csv
import socket
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import ClassVar

SIP_PORTS = range(46000, 47000)
MEDIA_PORTS = range(36000, 36600, 4)
_next = {"sip": 0, "media": 0}


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sip_port() -> int:
    for _ in range(len(SIP_PORTS)):
        port = SIP_PORTS[_next["sip"] % len(SIP_PORTS)]
        _next["sip"] += 1
        if _udp_free(port):
            return port
    raise RuntimeError("no free SIPp port in 46000-46999")


def media_port() -> int:
    for _ in range(len(MEDIA_PORTS)):
        port = MEDIA_PORTS[_next["media"] % len(MEDIA_PORTS)]
        _next["media"] += 1
        if all(_udp_free(p) for p in (port, port + 1, port + 2, port + 3)):
            return port
    raise RuntimeError("no free SIPp media port in 36000-36999")


def udp_bound(port: int) -> bool:
    needle = f":{port:04X} "
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                if any(needle in line.split("\n")[0][:40] for line in f):
                    return True
        except OSError:
            continue
    return False


SDP = """v=0
o=- 1 2 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 0
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000"""

_PREAMBLE = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'

_CALLER_INVITE = """  <send retrans="500"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{dialled}@{tenant}>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{account}@[local_ip]:[local_port]>
      {identity}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
"""

_IN_DIALOG = """  <send{retrans}><![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
"""


def _identity(account: str, tenant: str, origin: str) -> str:
    lines = []
    if account:
        lines.append(f"X-Centralino-Account: {account}")
    lines.append(f"X-Centralino-Tenant: {tenant}")
    lines.append(f"X-Centralino-Origin: {origin}")
    return "\n      ".join(lines)


def caller_answered(
    account: str,
    tenant: str,
    dialled: str,
    hold_ms: int = 500,
    origin: str = "internal",
    identity: str | None = None,
) -> str:
    """Call ``dialled``, expect 200, hold ``hold_ms``, hang up with BYE. ``identity``
    replaces the edge's headers (a provider sends none)."""
    fmt = {"account": account or "ext", "tenant": tenant, "dialled": dialled}
    headers = identity or _identity(account, tenant, origin)
    return (
        _PREAMBLE
        + '<scenario name="caller answered">\n'
        + _CALLER_INVITE.format(**fmt, identity=headers, sdp=SDP)
        + '  <recv response="200" rrs="true"/>\n'
        + _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1)
        + f'  <pause milliseconds="{hold_ms}"/>\n'
        + _IN_DIALOG.format(**fmt, retrans=' retrans="500"', method="BYE", cseq=2)
        + '  <recv response="200" crlf="true"/>\n</scenario>\n'
    )


def caller_refused(
    account: str,
    tenant: str,
    dialled: str,
    status: int,
    origin: str = "internal",
    identity: str | None = None,
) -> str:
    """Call ``dialled`` and expect the final ``status`` (then ACK it)."""
    fmt = {"account": account or "ext", "tenant": tenant, "dialled": dialled}
    headers = identity or _identity(account, tenant, origin)
    return (
        _PREAMBLE
        + '<scenario name="caller refused">\n'
        + _CALLER_INVITE.format(**fmt, identity=headers, sdp=SDP)
        + f'  <recv response="{status}"/>\n'
        + """  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch-5]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
</scenario>
""".format(**fmt)
    )


def caller_cancels(account: str, tenant: str, dialled: str) -> str:
    """Call ``dialled``, CANCEL once it rings, expect 200 (CANCEL) and 487 (INVITE)."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    return (
        _PREAMBLE
        + '<scenario name="caller cancels">\n'
        + _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=SDP)
        .replace('<recv response="180" optional="true"/>', '<recv response="180"/>')
        .replace('  <recv response="183" optional="true"/>\n', "")
        + """  <send><![CDATA[
      CANCEL sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch-4]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{dialled}@{tenant}>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch-7]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
</scenario>
""".format(**fmt)
    )


_RESPONSE = """  <send><![CDATA[
      SIP/2.0 {status} {reason}
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      {cseq}
      Contact: <sip:device@[local_ip]:[local_port]>
      {body_headers}Content-Length: [len]
{body}
  ]]></send>
"""


def _response(status: int, reason: str, sdp: bool = False, cseq: str = "[last_CSeq:]") -> str:
    return _RESPONSE.format(
        status=status,
        reason=reason,
        cseq=cseq,
        body_headers="Content-Type: application/sdp\n      " if sdp else "",
        body="\n" + SDP if sdp else "",
    )


def _recv_checked(what: str, regexp: str, var: str, search_in: str = "body") -> str:
    """Receive ``what`` (e.g. ``request="ACK"``); the call fails unless it matches."""
    return f"""  <recv {what}>
    <action>
      <ereg regexp="{escape(regexp, quote=True)}" search_in="{search_in}" check_it="true"
            assign_to="{var}"/>
    </action>
  </recv>
  <Reference variables="{var}"/>
"""


def _recv_invite(expect: str | None) -> str:
    if expect is None:
        return '  <recv request="INVITE"/>\n'
    return _recv_checked('request="INVITE"', expect, "id", "msg")


def device_answers(delay_ms: int = 300, expect: str | None = None) -> str:
    """Ring, answer after ``delay_ms``, wait for the caller's BYE. ``expect``: a regex the
    INVITE must match (SIPp fails the call otherwise)."""
    return (
        _PREAMBLE
        + '<scenario name="device answers">\n'
        + _recv_invite(expect)
        + _response(180, "Ringing")
        + f'  <pause milliseconds="{delay_ms}"/>\n'
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def device_hangs_up(delay_ms: int = 200, hold_ms: int = 500) -> str:
    """Answer, then hang up from the device side after ``hold_ms``."""
    return (
        _PREAMBLE
        + '<scenario name="device hangs up">\n'
        + '  <recv request="INVITE" rrs="true"/>\n'
        + _response(180, "Ringing")
        + f'  <pause milliseconds="{delay_ms}"/>\n'
        + _response(200, "OK", sdp=True)
        + """  <recv request="ACK">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>
"""
        + f'  <pause milliseconds="{hold_ms}"/>\n'
        + """  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: [$me]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""
    )


def device_rings_until_cancelled(reason: str) -> str:
    """Ring and expect a CANCEL whose Reason matches the regex ``reason``."""
    return (
        _PREAMBLE
        + '<scenario name="device rings until cancelled">\n'
        + '  <recv request="INVITE"/>\n'
        + _response(180, "Ringing")
        + f"""  <recv request="CANCEL">
    <action>
      <ereg regexp="{escape(reason, quote=True)}" search_in="hdr" header="Reason:" check_it="true"
            assign_to="r"/>
    </action>
  </recv>
  <Reference variables="r"/>
"""
        + _response(200, "OK")
        + _response(487, "Request Terminated", cseq="CSeq: 1 INVITE")
        + '  <recv request="ACK"/>\n'
        + "</scenario>\n"
    )


def device_refuses(status: int, reason: str) -> str:
    return (
        _PREAMBLE
        + '<scenario name="device refuses">\n'
        + '  <recv request="INVITE"/>\n'
        + _response(status, reason)
        + '  <recv request="ACK"/>\n'
        + "</scenario>\n"
    )


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stats: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Sipp:
    """One SIPp process on its own SIP and media ports."""

    #: processes not yet reaped, killed by the tests' teardown
    running: ClassVar[set[Sipp]] = set()

    def __init__(self, workdir: Path, name: str, scenario: str, ip: str = "127.0.0.1") -> None:
        self.ip = ip  # another loopback address plays another host
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.scenario = self.dir / "scenario.xml"
        self.scenario.write_text(scenario)
        self.port = sip_port()
        self.media = media_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def register(self, registrar: str, injection: Path, expires: int = 300) -> SippResult:
        """REGISTER from this instance's own port, so the location points at it."""
        scenario = self.dir / "register.xml"
        scenario.write_text(REGISTER.replace("{expires}", str(expires)))
        return await self.call(registrar, extra=["-inf", str(injection)], scenario=scenario)

    def _args(self, calls: int, timeout: int, scenario: Path | None = None) -> list[str]:
        return [
            "sipp",
            "-sf",
            str(scenario or self.scenario),
            "-i",
            self.ip,
            "-p",
            str(self.port),
            "-mp",
            str(self.media),
            "-m",
            str(calls),
            "-nostdin",
            "-timeout",
            f"{timeout}s",
            "-timeout_error",
            "-trace_stat",
            "-stf",
            str(self.dir / "stat.csv"),
            "-trace_err",
            "-error_file",
            str(self.dir / "errors.log"),
        ]

    async def start_uas(self, calls: int = 1, timeout: int = 20) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self._args(calls, timeout),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.dir,
        )
        Sipp.running.add(self)
        # the port is bound a moment after exec; a call sent earlier would be lost
        for _ in range(500):
            if udp_bound(self.port):
                return
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.01)
        result = await self.wait(1)
        raise RuntimeError(f"sipp UAS on {self.port} did not start: {result.stdout}")

    async def call(
        self,
        target: str,
        calls: int = 1,
        timeout: int = 20,
        extra: list[str] | None = None,
        scenario: Path | None = None,
    ) -> SippResult:
        self.proc = await asyncio.create_subprocess_exec(
            *self._args(calls, timeout, scenario),
            *(extra or []),
            target,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.dir,
        )
        Sipp.running.add(self)
        return await self.wait(timeout + 10)

    async def wait(self, timeout: float = 30) -> SippResult:
        assert self.proc is not None
        try:
            out, _ = await asyncio.wait_for(self.proc.communicate(), timeout)
        except TimeoutError:
            self.proc.kill()
            out, _ = await self.proc.communicate()
        Sipp.running.discard(self)
        stats: dict[str, str] = {}
        stat_file = self.dir / "stat.csv"
        if stat_file.exists():
            rows = list(csv.DictReader(stat_file.open(), delimiter=";"))
            stats = rows[-1] if rows else {}
        errors = self.dir / "errors.log"
        text = (out or b"").decode(errors="replace")[-3000:]
        if errors.exists():
            text += "\n--- errors ---\n" + errors.read_text(errors="replace")[-3000:]
        return SippResult(self.proc.returncode or 0, text, stats)

    async def stop(self) -> None:
        Sipp.running.discard(self)
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def _recv_200(expect: str | None) -> str:
    if expect is None:
        return '  <recv response="200" rrs="true"/>\n'
    return _recv_checked('response="200" rrs="true"', expect, "sdp")


def caller_anchored(
    account: str,
    tenant: str,
    dialled: str,
    *,
    answer: str | None = None,
    offer: str = SDP,
    hold: str | None = None,
    wait_for_bye: bool = False,
) -> str:
    """Call and check the SDP answer against the regex ``answer``; then optionally put the
    call on hold with a re-INVITE whose answer must match ``hold``; then hang up, or wait
    for the PBX to hang up when ``wait_for_bye``."""
    fmt = {"account": account, "tenant": tenant, "dialled": dialled}
    parts = [
        _PREAMBLE,
        '<scenario name="caller anchored">\n',
        _CALLER_INVITE.format(**fmt, identity=_identity(account, tenant, "internal"), sdp=offer),
        _recv_200(answer),
        _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=1),
    ]
    cseq = 2
    if hold is not None:
        parts.append(
            f"""  <send retrans="500"><![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      [routes]
      From: <sip:{account}@{tenant}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:{account}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{offer}
a=sendonly
  ]]></send>
  <recv response="100" optional="true"/>
"""
        )
        parts.append(_recv_200(hold).replace(' rrs="true"', "").replace('"sdp"', '"held"'))
        parts.append(_IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=cseq))
        cseq += 1
    if wait_for_bye:
        parts.append(
            """  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
"""
        )
    else:
        parts.append(_IN_DIALOG.format(**fmt, retrans=' retrans="500"', method="BYE", cseq=cseq))
        parts.append('  <recv response="200" crlf="true"/>\n')
    parts.append("</scenario>\n")
    return "".join(parts)


def device_accepts_reinvite(expect: str) -> str:
    """Answer, then accept a re-INVITE matching the regex ``expect`` (relayed hold), then
    wait for the BYE."""
    return (
        _PREAMBLE
        + '<scenario name="device accepts re-INVITE">\n'
        + '  <recv request="INVITE"/>\n'
        + _response(180, "Ringing")
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + _recv_checked('request="INVITE"', expect, "re")
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def device_early_media(delay_ms: int = 300) -> str:
    """183 Session Progress with SDP (early media), then answer."""
    return (
        _PREAMBLE
        + '<scenario name="device early media">\n'
        + '  <recv request="INVITE"/>\n'
        + _response(183, "Session Progress", sdp=True)
        + f'  <pause milliseconds="{delay_ms}"/>\n'
        + _response(200, "OK", sdp=True)
        + '  <recv request="ACK"/>\n'
        + '  <recv request="BYE"/>\n'
        + _response(200, "OK")
        + "</scenario>\n"
    )


def expect_early_media(scenario: str, sdp: str = "m=audio [0-9]+ RTP/AVP") -> str:
    """Make a caller scenario require a 183 whose SDP matches the regex ``sdp``."""
    return scenario.replace(
        '  <recv response="183" optional="true"/>\n',
        f"""  <recv response="183">
    <action>
      <ereg regexp="{escape(sdp, quote=True)}" search_in="body" check_it="true" assign_to="em"/>
    </action>
  </recv>
  <Reference variables="em"/>
""",
    )


# -- through the SIP edge (registrar): digest auth from an injection file ----------------

REGISTER = (
    _PREAMBLE
    + """<scenario name="register with digest auth">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Expires: {expires}
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      [field1]
      Expires: {expires}
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""
)


def credentials(path: Path, username: str, password: str) -> Path:
    """An injection file for REGISTER/INVITE digest auth (the guide's working form)."""
    path.write_text(
        f"SEQUENTIAL\n{username};[authentication username={username} password={password}]\n"
    )
    return path


def caller_through_edge(dialled: str, final: int = 200, hold_ms: int = 300) -> str:
    """INVITE through the SIP edge (407 challenge, then authenticated); expect ``final``:
    200 is ACKed, held and hung up; anything else is ACKed."""
    invite = """  <send retrans="500"><![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{dialled}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      {auth}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
"""
    ack = """  <send><![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch-{back}]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
"""
    parts = [
        _PREAMBLE,
        '<scenario name="caller through the edge">\n',
        invite.format(dialled=dialled, cseq=1, auth="", sdp=SDP),
        '  <recv response="100" optional="true"/>\n',
        '  <recv response="407" auth="true"/>\n',
        ack.format(dialled=dialled, cseq=1, back=3),
        invite.format(dialled=dialled, cseq=2, auth="[field1]", sdp=SDP),
        '  <recv response="100" optional="true"/>\n',
        '  <recv response="180" optional="true"/>\n',
        '  <recv response="183" optional="true"/>\n',
    ]
    fmt = {"account": "[field0]", "tenant": "[remote_ip]"}
    if final == 200:
        parts += [
            '  <recv response="200" rrs="true"/>\n',
            _IN_DIALOG.format(**fmt, retrans="", method="ACK", cseq=2),
            f'  <pause milliseconds="{hold_ms}"/>\n',
            _IN_DIALOG.format(**fmt, retrans=' retrans="500"', method="BYE", cseq=3),
            '  <recv response="200" crlf="true"/>\n',
        ]
    else:
        parts += [f'  <recv response="{final}"/>\n', ack.format(dialled=dialled, cseq=2, back=5)]
    parts.append("</scenario>\n")
    return "".join(parts)

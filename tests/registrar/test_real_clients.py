"""Real SIP clients against the registrar: SIPp, baresip, sipvicious; WS via aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import aiohttp
import pytest
from registrar_clients import Baresip, need, run_sipp, users_csv
from registrar_harness import Pbx, unique

from centralino.bus import Bus
from centralino.sip import Request, Response, generate_branch, parse_message
from centralino.sip.digest import build_authorization
from centralino.sip.transport import TransportKind
from centralino.v1 import config_pb2, registrar_pb2

pytestmark = pytest.mark.e2e


async def _accounts(pbx: Pbx, n: int) -> dict[str, str]:
    base = unique("3")[:6]
    users = {f"{base}{i:03d}": f"pw{base}{i:03d}" for i in range(n)}
    for user, password in users.items():
        await pbx.add_account(user, password)
    return users


@pytest.mark.parametrize(
    ("transport", "kind"), [("u1", TransportKind.UDP), ("t1", TransportKind.TCP)]
)
async def test_reg01_sipp_registers_many_accounts(
    pbx: Pbx, tmp_path: Path, nats_url: str, transport: str, kind: TransportKind
) -> None:
    users = await _accounts(pbx, 40)
    proto = {"u1": config_pb2.UDP, "t1": config_pb2.TCP}[transport]
    bus = await Bus.connect(nats_url, "sipp-watcher")
    events: dict[str, list[str]] = {u: [] for u in users}
    # over TCP, SIPp closes its one connection on exit: every binding made over it is
    # unreachable then and is removed (RFC 5626 flow semantics)
    expected = ["registered"] if kind is TransportKind.UDP else ["registered", "unregistered"]
    complete = asyncio.Event()

    async def on_event(subject: str, event: registrar_pb2.LocationEvent) -> None:
        if event.location.username in events:
            assert event.location.transport == proto
            events[event.location.username].append(event.event)
            if all(len(e) >= len(expected) for e in events.values()):
                complete.set()

    await bus.subscribe("centralino.t1.registrar.location.>", registrar_pb2.LocationEvent, on_event)
    try:
        stats = await run_sipp(
            pbx.sip(kind),
            "reg_auth.xml",
            users_csv(tmp_path / "u.csv", users),
            len(users),
            rate=100,
            transport=transport,
            workdir=tmp_path,
        )
        assert stats["returncode"] == "0", stats["output"]
        assert (stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == ("40", "0")
        assert pbx.registrar.edge is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(complete.wait(), 10)
        assert all(e == expected for e in events.values()), events
        if kind is TransportKind.UDP:
            for user in users:
                location = await pbx.registrar.edge.store.get(user)
                assert location is not None and location.transport == proto, user
    finally:
        await bus.close()


async def test_acc02_sipp_with_wrong_passwords_fails(pbx: Pbx, tmp_path: Path) -> None:
    users = await _accounts(pbx, 3)
    wrong = {u: "not-" + p for u, p in users.items()}
    stats = await run_sipp(
        pbx.sip(),
        "reg_auth.xml",
        users_csv(tmp_path / "u.csv", wrong),
        3,
        rate=10,
        workdir=tmp_path,
        timeout=10,
    )
    assert stats["returncode"] == "1"
    assert stats["SuccessfulCall(C)"] == "0"
    assert pbx.registrar.edge is not None
    for user in users:
        assert await pbx.registrar.edge.store.get(user) is None


@pytest.mark.parametrize(
    ("suffix", "label", "kind"),
    [
        ("", "UDP", TransportKind.UDP),
        (";transport=tcp", "TCP", TransportKind.TCP),
        (";transport=tls", "TLS", TransportKind.TLS),
    ],
)
async def test_feat01_baresip_registers(
    pbx: Pbx, tmp_path: Path, suffix: str, label: str, kind: TransportKind
) -> None:
    user = unique("4")
    await pbx.add_account(user, "baresippw1")
    host, port = pbx.sip(kind)
    account = f"<sip:{user}@{host}:{port}{suffix}>;auth_pass=baresippw1;regint=300"
    phone = await asyncio.to_thread(Baresip, tmp_path / "b", account)
    try:
        await asyncio.to_thread(phone.expect, rf"\{{0/{label}/v4\}} 200 OK")
        assert pbx.registrar.edge is not None
        location = await pbx.registrar.edge.store.get(user)
        assert location is not None
        assert (
            location.transport
            == {
                TransportKind.UDP: config_pb2.UDP,
                TransportKind.TCP: config_pb2.TCP,
                TransportKind.TLS: config_pb2.TLS,
            }[kind]
        )
        assert "baresip" in location.user_agent.lower()
    finally:
        await asyncio.to_thread(phone.stop)


@pytest.mark.parametrize("kind", [TransportKind.WS, TransportKind.WSS])
async def test_feat01_websocket_register_with_aiohttp_client(pbx: Pbx, kind: TransportKind) -> None:
    """No Debian SIP client speaks WS: aiohttp plays a browser SIP library (RFC 7118)."""
    user = unique("5")
    await pbx.add_account(user, "wsphonepw1")
    host, port = pbx.sip(kind)
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE  # the test PBX's self-signed certificate
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{kind.value}://{host}:{port}/",
            protocols=("sip",),
            ssl=tls if kind is TransportKind.WSS else True,
        ) as ws,
    ):
        assert ws.protocol == "sip"

        def register(cseq: int, auth: str | None) -> str:
            lines = [
                f"REGISTER sip:{host} SIP/2.0",
                f"Via: SIP/2.0/{kind.via_token} df7jal23ls0d.invalid;branch={generate_branch()}",
                "Max-Forwards: 70",
                f"From: <sip:{user}@{host}>;tag=ws1",
                f"To: <sip:{user}@{host}>",
                "Call-ID: ws-call-1",
                f"CSeq: {cseq} REGISTER",
                f"Contact: <sip:{user}@df7jal23ls0d.invalid;transport={kind.value}>;expires=300",
                "User-Agent: aiohttp-as-browser",
            ]
            if auth:
                lines.append(f"Authorization: {auth}")
            return "\r\n".join([*lines, "Content-Length: 0", "", ""])

        await ws.send_str(register(1, None))
        challenge = parse_message((await ws.receive_str(timeout=5)).encode())
        assert isinstance(challenge, Response) and challenge.status == 401
        auth = build_authorization(
            challenge.headers.get_all("WWW-Authenticate")[0],
            method="REGISTER",
            uri=f"sip:{host}",
            username=user,
            password="wsphonepw1",
            cnonce="c0ffee",
        )
        await ws.send_str(register(2, auth))
        ok = parse_message((await ws.receive_str(timeout=5)).encode())
        assert isinstance(ok, Response) and ok.status == 200
        assert pbx.registrar.edge is not None
        location = await pbx.registrar.edge.store.get(user)
        proto = config_pb2.WS if kind is TransportKind.WS else config_pb2.WSS
        assert location is not None and location.transport == proto
        # a call for the account comes down this very WebSocket (the .invalid Contact
        # host could never be reached otherwise)
        router = await pbx.router_peer()
        try:
            router.invite(user)
            incoming = parse_message((await ws.receive_str(timeout=5)).encode())
            assert isinstance(incoming, Request) and incoming.method == "INVITE"
            assert incoming.uri_text == f"sip:{user}@df7jal23ls0d.invalid;transport={kind.value}"
            assert incoming.top_via.transport == kind.via_token
        finally:
            router.close()


async def test_sipsak_options_liveness(pbx: Pbx) -> None:
    need("sipsak")
    host, port = pbx.sip()
    process = await asyncio.create_subprocess_exec(
        "sipsak",
        "-s",
        f"sip:{host}",
        "-r",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, out.decode()


async def test_reg06_two_baresip_devices_only_the_last_rings(pbx: Pbx, tmp_path: Path) -> None:
    user = unique("4")
    await pbx.add_account(user, "twodevices1")
    host, port = pbx.sip()
    account = f"<sip:{user}@{host}:{port}>;auth_pass=twodevices1;answermode=manual"
    first = await asyncio.to_thread(Baresip, tmp_path / "first", account)
    second = None
    router = await pbx.router_peer()
    try:
        await asyncio.to_thread(first.expect, r"\{0/UDP/v4\} 200 OK")
        second = await asyncio.to_thread(Baresip, tmp_path / "second", account)
        await asyncio.to_thread(second.expect, r"\{0/UDP/v4\} 200 OK")
        router.invite(user, headers=[("Content-Type", "application/sdp")])
        await asyncio.to_thread(second.expect, r"Incoming call")
        assert (await router.response(final=False)).status in (100, 180, 183)
        with pytest.raises(TimeoutError):
            await asyncio.to_thread(first.expect, r"Incoming call", 1.0)
    finally:
        router.close()
        for phone in (first, second):
            if phone is not None:
                await asyncio.to_thread(phone.stop)

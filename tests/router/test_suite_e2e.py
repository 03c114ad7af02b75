"""The whole suite: config-api, registrar (SIP edge), router and media, with real phones
registered at the edge (EXT-04, REG-05/07, OVF-04/06, ACC-14).

Two baresip phones hold a real call whose audio goes through the media relay: A sends a
1 kHz tone and B a 440 Hz one, and each must receive the other's. SIPp phones register
with digest auth and place authenticated calls for the fork, busy and unavailable cases.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from phones import Baresip, peak_hz, write_tone

from centralino.bus import Bus
from centralino.settings import CommonSettings
from centralino.sip.transport import TransportKind
from centralino_registrar.service import RegistrarService

from .conftest import ConfigApi, Router, Tenant, _env, _serve, _stop
from .sipp import (
    Sipp,
    caller_through_edge,
    credentials,
    device_answers,
    device_refuses,
    device_rings_until_cancelled,
    sip_port,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed"),
]

PHONE_RTP = {"a": 36800, "b": 36900}


@dataclass
class Suite:
    registrar_udp: str


@pytest.fixture(scope="module")
async def suite(
    config_api: ConfigApi, anchored_router: Router, router_db: str, nats_url: str, bus: Bus
) -> AsyncIterator[Suite]:
    env = _env(
        router_db,
        nats_url,
        CENTRALINO_CONFIG_GRPC=config_api.grpc_address,
        CENTRALINO_SIP_HOST="127.0.0.1",
        CENTRALINO_SIP_ADVERTISED_HOST="127.0.0.1",
        CENTRALINO_SIP_UDP_PORT="0",
        CENTRALINO_SIP_TCP_PORT="0",
        CENTRALINO_SIP_TLS_PORT="-1",
        CENTRALINO_SIP_WS_PORT="-1",
        CENTRALINO_SIP_WSS_PORT="-1",
        CENTRALINO_REGISTRAR_INTERNAL_SIP="127.0.0.1:0",
        CENTRALINO_ROUTER_SIP=anchored_router.address,
    )
    settings = CommonSettings.from_env("registrar", env)
    registrar = RegistrarService(settings)
    task = await _serve(registrar, settings, bus)
    try:
        host, port = registrar.listeners[TransportKind.UDP]
        yield Suite(f"{host}:{port}")
    finally:
        await _stop(task)


async def test_two_baresip_phones_talk_through_the_media_relay(
    suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    alice = await tenant.account("alice", "200")
    await tenant.extension("201")
    bob = await tenant.account("bob", "201")
    write_tone(tmp_path / "a.wav", 3, 1000)  # A hangs up when its file ends
    write_tone(tmp_path / "b.wav", 30, 440)
    a = Baresip(
        tmp_path / "a",
        alice,
        "Secret12345",
        suite.registrar_udp,
        PHONE_RTP["a"],
        tmp_path / "a.wav",
        sip_port,
    )
    b = Baresip(
        tmp_path / "b",
        bob,
        "Secret12345",
        suite.registrar_udp,
        PHONE_RTP["b"],
        tmp_path / "b.wav",
        sip_port,
    )
    try:
        await a.start()
        await b.start()
        await a.expect(r"200 OK .*\[1 binding\]")
        await b.expect(r"200 OK .*\[1 binding\]")
        await a.command("dial", f"sip:201@{suite.registrar_udp}")
        await a.expect(r"Call established")
        await b.expect(r"Call established")
        await b.expect(r"terminated \(duration", timeout=20)
    finally:
        await a.stop()
        await b.stop()
    (ended,) = await tenant.events.ended()
    assert (ended.caller_extension, ended.callee_account, ended.cause) == ("200", bob, "normal")
    hz, seconds = peak_hz(b.received())
    assert abs(hz - 1000) < 10 and seconds > 2, (hz, seconds)
    hz, _ = peak_hz(a.received())
    assert abs(hz - 440) < 10, hz


async def _device(
    tenant: Tenant, suite: Suite, tmp_path: Path, label: str, extension: str, scenario: str
) -> tuple[str, Sipp]:
    """An account of ``extension`` whose SIPp device REGISTERs through the edge, then
    runs ``scenario`` on the same port."""
    user = await tenant.account(label, extension, direct_media=False)
    device = Sipp(tmp_path, label, scenario)
    auth = credentials(device.dir / "auth.csv", user, "Secret12345")
    registered = await device.register(suite.registrar_udp, auth)
    assert registered.ok, registered.stdout
    await device.start_uas()
    return user, device


async def _call(tenant: Tenant, suite: Suite, tmp_path: Path, user: str, scenario: str) -> None:
    caller = Sipp(tmp_path, "caller", scenario)
    auth = credentials(caller.dir / "auth.csv", user, "Secret12345")
    result = await caller.call(suite.registrar_udp, extra=["-inf", str(auth)])
    assert result.ok, result.stdout


async def test_fork_through_the_edge_first_answer_wins_EXT_04_REG_07(
    suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    """SIPp phones registered at the registrar: both devices of 201 ring through the edge,
    the desk answers, the softphone is cancelled as completed elsewhere; media anchored."""
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    caller = await tenant.account("caller", "200", direct_media=False)
    await tenant.extension("201")
    desk, desk_uas = await _device(
        tenant, suite, tmp_path, "desk", "201", device_answers(300, expect="Ada Lovelace")
    )
    _, soft_uas = await _device(
        tenant,
        suite,
        tmp_path,
        "soft",
        "201",
        device_rings_until_cancelled(r'cause=200;text="Call completed elsewhere"'),
    )
    await _call(tenant, suite, tmp_path, caller, caller_through_edge("201"))
    assert (await desk_uas.wait()).ok
    soft = await soft_uas.wait()
    assert soft.ok, soft.stdout
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.callee_account, ended.direct_media) == ("normal", desk, False)


async def test_busy_device_through_the_edge_is_486_OVF_04(
    suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    await tenant.extension("200")
    caller = await tenant.account("caller", "200", direct_media=False)
    await tenant.extension("201")
    _, busy = await _device(tenant, suite, tmp_path, "desk", "201", device_refuses(486, "Busy"))
    await _call(tenant, suite, tmp_path, caller, caller_through_edge("201", final=486))
    assert (await busy.wait()).ok
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.sip_status) == ("busy", 486)


async def test_unregistered_device_through_the_edge_is_unavailable_REG_05_OVF_06(
    suite: Suite, tenant: Tenant, tmp_path: Path
) -> None:
    """The device registers, then removes its binding (Expires: 0): unavailable, 480."""
    await tenant.extension("200")
    caller = await tenant.account("caller", "200", direct_media=False)
    await tenant.extension("201")
    user = await tenant.account("desk", "201", direct_media=False)
    device = Sipp(tmp_path, "desk", device_answers(0))
    auth = credentials(device.dir / "auth.csv", user, "Secret12345")
    assert (await device.register(suite.registrar_udp, auth)).ok
    assert (await device.register(suite.registrar_udp, auth, expires=0)).ok
    await _call(tenant, suite, tmp_path, caller, caller_through_edge("201", final=480))
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.sip_status) == ("unavailable", 480)

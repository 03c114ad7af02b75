"""Calls between extensions through the router, with SIPp callers and devices (e2e).

EXT-01/04/05, REG-05/06/07, LIM-01..05, OVF-01..07. Every outcome is checked on the wire
(what SIPp received), in the call events, and in the CDR row.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from .conftest import Router, SilentDevice, Tenant
from .sipp import (
    Sipp,
    caller_anchored,
    caller_answered,
    caller_cancels,
    caller_refused,
    device_accepts_reinvite,
    device_answers,
    device_early_media,
    device_hangs_up,
    device_refuses,
    device_rings_until_cancelled,
    expect_early_media,
)

pytestmark = pytest.mark.e2e

COMPLETED_ELSEWHERE = r'cause=200;text="Call completed elsewhere"'


async def _cdr(router_db: str, call_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(router_db)
    try:
        return await conn.fetch("SELECT * FROM call_detail_records WHERE call_id = $1", call_id)
    finally:
        await conn.close()


async def _caller_ext(tenant: Tenant, number: str = "200", **settings: object) -> str:
    await tenant.extension(number, settings or None, first_name="Ada", last_name="Lovelace")
    return await tenant.account("caller", number)


async def test_every_account_rings_first_answer_wins_other_cancelled_EXT_04_REG_07(
    router: Router, tenant: Tenant, tmp_path: Path, router_db: str
) -> None:
    """Both devices of 201 ring; the desk answers, the softphone gets CANCEL with
    Reason "Call completed elsewhere"; the caller identity is the extension (EXT-05)."""
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    soft = await tenant.account("soft", "201")
    desk_uas = Sipp(tmp_path, "desk", device_answers(300, expect=r'From: "Ada Lovelace" <sip:200@'))
    soft_uas = Sipp(tmp_path, "soft", device_rings_until_cancelled(COMPLETED_ELSEWHERE))
    await desk_uas.start_uas()
    await soft_uas.start_uas()
    await tenant.register(desk, desk_uas.address)
    await tenant.register(soft, soft_uas.address)
    uac = Sipp(tmp_path, "caller", caller_answered(caller, tenant.name, "201"))
    result = await uac.call(router.address)
    assert result.ok, result.stdout
    assert (await desk_uas.wait()).ok
    soft_result = await soft_uas.wait()
    assert soft_result.ok, soft_result.stdout
    (ended,) = await tenant.events.ended()
    assert tenant.events.names(ended.call_id) == ["created", "ringing", "answered", "ended"]
    assert (ended.cause, ended.callee_account, ended.caller_extension) == ("normal", desk, "200")
    assert ended.duration_ms >= 400
    assert ended.direct_media  # both accounts allow it: nothing anchored (ACC-14/15)
    (row,) = await _cdr(router_db, ended.call_id)
    assert (row["callee_extension"], row["callee_account"], row["cause"]) == ("201", desk, "normal")
    assert row["answered_at"] is not None


async def test_device_hangs_up_first(router: Router, tenant: Tenant, tmp_path: Path) -> None:
    """BYE from the callee ends both legs."""
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_hangs_up(100, 300))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    # the caller holds longer than the device: it receives the BYE while pausing
    scenario = caller_answered(caller, tenant.name, "201", hold_ms=3000)
    scenario = scenario[: scenario.index('  <pause milliseconds="3000"/>')] + (
        '  <recv request="BYE"/>\n'
        "  <send><![CDATA[\n"
        "      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n"
        "      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n\n  ]]></send>\n"
        "</scenario>\n"
    )
    uac = Sipp(tmp_path, "caller", scenario)
    result = await uac.call(router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok
    (ended,) = await tenant.events.ended()
    assert ended.cause == "normal"


async def test_caller_cancel_cancels_every_branch(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_rings_until_cancelled(r"cause=487"))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    result = await Sipp(tmp_path, "caller", caller_cancels(caller, tenant.name, "201")).call(
        router.address
    )
    assert result.ok, result.stdout
    assert (await uas.wait()).ok
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.sip_status) == ("cancelled", 487)


async def test_disabled_account_is_never_rung(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice
) -> None:
    """Only the enabled account rings; with it busy the call is busy (OVF-04). Had the
    disabled one been rung, its silence would have kept the call ringing."""
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    on = await tenant.account("on", "201")
    off = await tenant.account("off", "201", enabled=False)
    busy = Sipp(tmp_path, "on", device_refuses(486, "Busy Here"))
    await busy.start_uas()
    await tenant.register(on, busy.address)
    await tenant.register(off, silent.address)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 486)).call(
        router.address
    )
    assert result.ok, result.stdout
    assert (await busy.wait()).ok
    assert silent.received == []


async def test_unknown_number_is_not_found(router: Router, tenant: Tenant, tmp_path: Path) -> None:
    caller = await _caller_ext(tenant)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "999", 404)).call(
        router.address
    )
    assert result.ok, result.stdout


async def test_expired_registration_is_unavailable_REG_05_OVF_06(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice
) -> None:
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    await tenant.register(desk, silent.address, expires_in=-1)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 480)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.sip_status) == ("unavailable", 480)
    assert silent.received == []


async def test_busy_level_one_suppresses_call_waiting_LIM_03_LIM_04(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """While 201 is in a call, a second call is not presented and gets 486 (LIM-03/04)."""
    caller = await _caller_ext(tenant)
    await tenant.extension("202")
    other = await tenant.account("other", "202")
    await tenant.extension("201", {"limits": {"busy_level": 1}})
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_answers(0))
    await uas.start_uas(calls=1)
    await tenant.register(desk, uas.address)
    first = Sipp(tmp_path, "first", caller_answered(caller, tenant.name, "201", hold_ms=3000))
    first_call = asyncio.ensure_future(first.call(router.address))
    async with tenant.events.changed:
        await asyncio.wait_for(
            tenant.events.changed.wait_for(
                lambda: any(
                    e.event == "answered" for evs in tenant.events.by_call.values() for e in evs
                )
            ),
            15,
        )
    second = await Sipp(tmp_path, "second", caller_refused(other, tenant.name, "201", 486)).call(
        router.address
    )
    assert second.ok, second.stdout
    assert (await first_call).ok
    assert (await uas.wait()).ok  # -m 1: a second INVITE would have failed it
    ended = await tenant.events.ended(2)
    assert sorted(e.cause for e in ended) == ["busy", "normal"]


async def test_call_limit_refuses_outgoing_and_makes_incoming_busy_LIM_01_LIM_02(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """A limit of 1: while 200 is in a call it can neither place (the consultation leg of
    an attended transfer, LIM-02) nor receive another."""
    caller = await _caller_ext(tenant, limits={"call_limit": 1})
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    await tenant.extension("202")
    third = await tenant.account("third", "202")
    uas = Sipp(tmp_path, "desk", device_answers(0))
    await uas.start_uas(calls=1)
    await tenant.register(desk, uas.address)
    held = asyncio.ensure_future(
        Sipp(tmp_path, "held", caller_answered(caller, tenant.name, "201", hold_ms=3000)).call(
            router.address
        )
    )
    async with tenant.events.changed:
        await asyncio.wait_for(
            tenant.events.changed.wait_for(
                lambda: any(
                    e.event == "answered" for evs in tenant.events.by_call.values() for e in evs
                )
            ),
            15,
        )
    consult = await Sipp(tmp_path, "consult", caller_refused(caller, tenant.name, "202", 403)).call(
        router.address
    )
    assert consult.ok, consult.stdout
    incoming = await Sipp(
        tmp_path, "incoming", caller_refused(third, tenant.name, "200", 486)
    ).call(router.address)
    assert incoming.ok, incoming.stdout
    assert (await held).ok
    causes = sorted(e.cause for e in await tenant.events.ended(3))
    assert causes == ["busy", "call_limit", "normal"]


async def test_anchoring_fails_cleanly_without_media_service(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """A call that must be anchored (direct media off) and cannot be gets 503, never a
    half-set-up call."""
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    caller = await tenant.account("caller", "200", direct_media=False)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201", direct_media=False)
    uas = Sipp(tmp_path, "desk", device_answers(0))
    await uas.start_uas(timeout=5)
    await tenant.register(desk, uas.address)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 503)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert ended.cause == "media_unavailable"
    await uas.stop()


async def test_direct_media_reinvite_is_relayed_to_the_other_device(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """Without anchoring, hold (sendonly) travels to the other device, its answer back."""
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_accepts_reinvite("a=sendonly"))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    scenario = caller_anchored(caller, tenant.name, "201", hold="m=audio")
    result = await Sipp(tmp_path, "caller", scenario).call(router.address)
    assert result.ok, result.stdout
    device = await uas.wait()
    assert device.ok, device.stdout


async def test_failed_calls_write_a_cdr_row_too(
    router: Router, tenant: Tenant, tmp_path: Path, router_db: str
) -> None:
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_refuses(486, "Busy Here"))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 486)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    (row,) = await _cdr(router_db, ended.call_id)
    assert (row["cause"], row["sip_status"], row["answered_at"]) == ("busy", 486, None)
    assert row["caller_extension"] == "200" and row["duration_ms"] == 0


async def test_early_media_183_is_relayed_with_its_sdp(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _caller_ext(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    uas = Sipp(tmp_path, "desk", device_early_media())
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    scenario = expect_early_media(caller_answered(caller, tenant.name, "201"))
    result = await Sipp(tmp_path, "caller", scenario).call(router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok
    (ended,) = await tenant.events.ended()
    assert tenant.events.names(ended.call_id) == ["created", "ringing", "answered", "ended"]

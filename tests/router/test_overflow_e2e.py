"""Overflow per origin and cause, end to end (OVF-01..07, LIM-05).

201's device fails in the way under test (rings past the timeout, answers 486, is not
registered); its overflow for that origin and cause sends the call to 202, whose device
answers. The same failure from another origin hangs up with the cause's status.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .conftest import Router, SilentDevice, Tenant
from .sipp import (
    Sipp,
    caller_answered,
    caller_refused,
    device_answers,
    device_refuses,
    device_rings_until_cancelled,
)

pytestmark = pytest.mark.e2e

ORIGINS = ("internal", "external", "transfer")
CAUSES = ("no_answer", "busy", "unavailable")
HANGUP_STATUS = {"no_answer": 408, "busy": 486, "unavailable": 480}


async def _failing_device(tenant: Tenant, tmp_path: Path, cause: str, silent: SilentDevice) -> Sipp:
    """201's one device, failing with ``cause``."""
    desk = await tenant.account("desk", "201")
    if cause == "unavailable":
        await tenant.register(desk, silent.address, expires_in=-1)  # OVF-06
        return Sipp(tmp_path, "unused", device_answers())
    scenario = (
        device_rings_until_cancelled(r'cause=480;text="No answer"')
        if cause == "no_answer"
        else device_refuses(486, "Busy Here")
    )
    uas = Sipp(tmp_path, "desk", scenario)
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    return uas


async def _caller(tenant: Tenant, origin: str) -> str:
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    account = await tenant.account("caller", "200")
    return "" if origin == "external" else account


def _overflow(origin: str, cause: str, action: dict[str, str | None]) -> dict[str, object]:
    return {"overflow": {origin: {"timeout": 1, cause: action}}}


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("origin", ORIGINS)
async def test_overflow_to_an_extension_per_origin_and_cause_OVF_01_to_06(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice, origin: str, cause: str
) -> None:
    caller = await _caller(tenant, origin)
    await tenant.extension("201", _overflow(origin, cause, {"type": "extension", "target": "202"}))
    failing = await _failing_device(tenant, tmp_path, cause, silent)
    await tenant.extension("202")
    backup = await tenant.account("backup", "202")
    backup_uas = Sipp(tmp_path, "backup", device_answers(0))
    await backup_uas.start_uas()
    await tenant.register(backup, backup_uas.address)
    result = await Sipp(
        tmp_path, "caller", caller_answered(caller, tenant.name, "201", 200, origin=origin)
    ).call(router.address)
    assert result.ok, result.stdout
    assert (await backup_uas.wait()).ok
    if cause != "unavailable":
        assert (await failing.wait()).ok
    (ended,) = await tenant.events.ended()
    assert (ended.origin, ended.callee_extension, ended.callee_account) == (origin, "202", backup)


@pytest.mark.parametrize("cause", CAUSES)
async def test_another_origins_overflow_does_not_apply_OVF_07(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice, cause: str
) -> None:
    """External calls overflow to 202; an internal call with the same failure hangs up
    with the status matching the cause (486 Busy Here for LIM-03)."""
    caller = await _caller(tenant, "internal")
    await tenant.extension(
        "201",
        {
            "overflow": {
                "external": {"timeout": 1, cause: {"type": "extension", "target": "202"}},
                "internal": {"timeout": 1},
            }
        },
    )
    await _failing_device(tenant, tmp_path, cause, silent)
    await tenant.extension("202")
    backup = await tenant.account("backup", "202")
    await tenant.register(backup, silent.address)
    status = HANGUP_STATUS[cause]
    result = await Sipp(
        tmp_path, "caller", caller_refused(caller, tenant.name, "201", status)
    ).call(router.address)
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert (ended.cause, ended.sip_status) == (cause, status)
    assert silent.received == []  # 202 never rang


async def test_busy_level_counts_as_busy_for_overflow_LIM_05(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """Busy level 1 already reached by a call in progress: the Busy overflow runs."""
    caller = await _caller(tenant, "internal")
    await tenant.extension(
        "201",
        {
            "limits": {"busy_level": 1},
            "overflow": {"external": {"busy": {"type": "extension", "target": "202"}}},
        },
    )
    desk = await tenant.account("desk", "201")
    await tenant.extension("202")
    backup = await tenant.account("backup", "202")
    desk_uas = Sipp(tmp_path, "desk", device_answers(0))
    backup_uas = Sipp(tmp_path, "backup", device_answers(0))
    await desk_uas.start_uas()
    await backup_uas.start_uas()
    await tenant.register(desk, desk_uas.address)
    await tenant.register(backup, backup_uas.address)
    first = Sipp(tmp_path, "first", caller_answered(caller, tenant.name, "201", hold_ms=2500))
    held = asyncio.ensure_future(first.call(router.address))
    async with tenant.events.changed:
        await asyncio.wait_for(
            tenant.events.changed.wait_for(
                lambda: any(
                    e.event == "answered" for evs in tenant.events.by_call.values() for e in evs
                )
            ),
            15,
        )
    # the external side: no account, so the caller's own limit does not interfere
    second = await Sipp(
        tmp_path, "second", caller_answered("", tenant.name, "201", 200, origin="external")
    ).call(router.address)
    assert second.ok, second.stdout
    assert (await held).ok
    ended = await tenant.events.ended(2)
    assert sorted(e.callee_extension for e in ended) == ["201", "202"]


async def test_chained_overflow_loop_hangs_up(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice
) -> None:
    """201 busy -> 202, 202 unavailable -> 201: the loop ends in a hang-up (480)."""
    caller = await _caller(tenant, "internal")
    await tenant.extension(
        "201", {"overflow": {"internal": {"busy": {"type": "extension", "target": "202"}}}}
    )
    await _failing_device(tenant, tmp_path, "busy", silent)
    await tenant.extension(
        "202", {"overflow": {"internal": {"unavailable": {"type": "extension", "target": "201"}}}}
    )
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 480)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert ended.cause == "unavailable" and "loop" in ended.detail


@pytest.mark.parametrize(
    "action,detail",
    [
        ({"type": "voicemail", "target": None}, "voicemail is not available"),
        ({"type": "queue", "target": "sales"}, "queue is not available"),
        ({"type": "external_number", "target": "+390212345"}, "no outbound route"),
    ],
)
async def test_targets_without_their_subsystem_hang_up_explicitly(
    router: Router,
    tenant: Tenant,
    tmp_path: Path,
    silent: SilentDevice,
    action: dict[str, str | None],
    detail: str,
) -> None:
    caller = await _caller(tenant, "internal")
    settings: dict[str, object] = {"overflow": {"internal": {"busy": action}}}
    if action["type"] == "voicemail":
        settings["voicemail"] = {"enabled": True}  # config-api wants a box to send to
    await tenant.extension("201", settings)
    await _failing_device(tenant, tmp_path, "busy", silent)
    result = await Sipp(tmp_path, "caller", caller_refused(caller, tenant.name, "201", 486)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert ended.cause == "busy" and detail in ended.detail


async def test_custom_selection_dials_the_configured_number(
    router: Router, tenant: Tenant, tmp_path: Path, silent: SilentDevice
) -> None:
    caller = await _caller(tenant, "internal")
    await tenant.extension(
        "201", {"overflow": {"internal": {"busy": {"type": "custom_selection", "target": "202"}}}}
    )
    await _failing_device(tenant, tmp_path, "busy", silent)
    await tenant.extension("202")
    backup = await tenant.account("backup", "202")
    uas = Sipp(tmp_path, "backup", device_answers(0))
    await uas.start_uas()
    await tenant.register(backup, uas.address)
    result = await Sipp(tmp_path, "caller", caller_answered(caller, tenant.name, "201", 200)).call(
        router.address
    )
    assert result.ok, result.stdout
    (ended,) = await tenant.events.ended()
    assert ended.callee_extension == "202"

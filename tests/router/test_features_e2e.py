"""The router's features end to end (issue 7): outbound classes, the electronic lock's
service codes, trunks both ways and ENUM, with a real config-api, NATS and SIPp playing
the phones and the provider.

Requirement IDs: COS-01..03, LOCK-01..10, EXT-12, FEAT-07, OVF-01.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from centralino.bus import Bus
from centralino_router.features.trunk_registration import TrunkState
from centralino_router.sipmsg import SipMessage

from .conftest import ConfigApi, Router, Tenant, serve_router
from .features_sipp import (
    caller_refers,
    caller_service,
    caller_transferred,
    consulted_party,
    device_reinvited_then_hangs_up,
    device_transfers,
    provider_answers,
    provider_calls,
    target_answers_delayed_offer,
)
from .scripted_phone import ScriptedPhone
from .sipp import (
    Sipp,
    caller_answered,
    caller_refused,
    device_answers,
    device_rings_until_cancelled,
)

PROVIDER_SCENARIO = Path(__file__).parents[1] / "router_features" / "provider_uas.xml"
UNREGISTER_SCENARIO = PROVIDER_SCENARIO.with_name("provider_unregister.xml")
ENUM_SUFFIX = "e164.test"


async def _request(api: ConfigApi, method: str, path: str, body: dict[str, Any]) -> Any:
    async with api.http.request(
        method,
        api.base + path,
        json=body,
        headers={"Authorization": f"Bearer {api.token}", "If-Match": "*"},
    ) as resp:
        data = await resp.json() if resp.content_type == "application/json" else None
        assert resp.status < 300, (path, resp.status, data)
        return data


async def _trunk(tenant: Tenant, provider: Sipp, **fields: Any) -> str:
    body = {"name": f"telco{provider.port}", "host": "127.0.0.1", "port": provider.port, **fields}
    trunk = await tenant.api.post(f"/api/v1/tenants/{tenant.name}/trunks", body)
    return str(trunk["id"])


async def _class(tenant: Tenant, name: str, rules: list[dict[str, Any]]) -> str:
    cls = await tenant.api.post(
        f"/api/v1/tenants/{tenant.name}/routing-classes", {"name": name, "rules": rules}
    )
    return str(cls["id"])


async def _caller(
    tenant: Tenant,
    *,
    standard: str | None,
    restricted: str | None = None,
    lock: dict[str, Any] | None = None,
    pin: str | None = None,
) -> str:
    settings: dict[str, Any] = {"cos": {"standard_class": standard, "restricted_class": restricted}}
    if lock:
        settings["lock"] = lock
    props: dict[str, Any] = {"first_name": "Ada", "last_name": "Lovelace"}
    if pin:
        props["service_pin"] = pin
    await tenant.extension("200", settings, **props)
    return await tenant.account("caller", "200")


async def _refused(
    router: Router, tenant: Tenant, tmp: Path, caller: str, dialled: str, status: int
) -> None:
    scenario = caller_refused(caller, tenant.name, dialled, status)
    result = await Sipp(tmp, f"refused-{dialled}", scenario).call(router.address)
    assert result.ok, result.stdout


async def _service(router: Router, tenant: Tenant, tmp: Path, caller: str, dialled: str) -> None:
    result = await Sipp(tmp, f"svc-{dialled}", caller_service(caller, tenant.name, dialled)).call(
        router.address
    )
    assert result.ok, result.stdout


async def _last_ended(tenant: Tenant, count: int) -> Any:
    ended = await tenant.events.ended(count)
    return max(ended, key=lambda e: e.meta.time_unix_ms if e.meta.time_unix_ms else 0)


# -- classes (COS-01..03) ----------------------------------------------------------------


async def test_class_rules_first_match_wins_and_denial_names_the_rule_COS_01(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    provider = Sipp(tmp_path, "provider", provider_answers(r"INVITE sip:0039061234@127\.0\.0\.1"))
    trunk = await _trunk(tenant, provider)
    std = await _class(
        tenant,
        "national",
        [
            {"pattern": "0039X.", "action": "allow", "trunk_id": trunk},
            {"pattern": "00X.", "action": "deny"},
        ],
    )
    caller = await _caller(tenant, standard=std)
    await provider.start_uas()
    result = await Sipp(
        tmp_path, "allowed", caller_answered(caller, tenant.name, "0039061234")
    ).call(router.address)
    assert result.ok, result.stdout
    assert (await provider.wait()).ok
    await _refused(router, tenant, tmp_path, caller, "0044201234", 403)
    await _refused(router, tenant, tmp_path, caller, "118118", 403)
    ended = await tenant.events.ended(3)
    by_dialled = {e.dialled: e for e in ended}
    assert by_dialled["0039061234"].cause == "normal"
    assert by_dialled["0039061234"].callee_account == f"trunk:telco{provider.port}"
    denied = by_dialled["0044201234"]
    assert (denied.cause, denied.sip_status) == ("class_denied", 403)
    assert "rule 1 (00X.) denies" in denied.detail and "[rule 1]" in denied.detail
    assert "no rule matches" in by_dialled["118118"].detail
    assert "[rule -1]" in by_dialled["118118"].detail


async def _out_through_trunk(
    router: Router,
    tenant: Tenant,
    tmp_path: Path,
    provider_scenario: str,
    trunk_fields: Callable[[Sipp], dict[str, Any]] = lambda _: {},
) -> Any:
    """200 dials 0612345678 under a class sending 0X. to a trunk whose provider is SIPp
    playing ``provider_scenario`` (``trunk_fields``: more of the trunk, given the SIPp).
    Both sides must succeed; returns the call's ended event."""
    provider = Sipp(tmp_path, "provider", provider_scenario)
    trunk = await _trunk(tenant, provider, **trunk_fields(provider))
    std = await _class(tenant, "std", [{"pattern": "0X.", "action": "allow", "trunk_id": trunk}])
    caller = await _caller(tenant, standard=std)
    await provider.start_uas()
    result = await Sipp(
        tmp_path, "caller", caller_answered(caller, tenant.name, "0612345678")
    ).call(router.address)
    assert result.ok, result.stdout
    provided = await provider.wait()
    assert provided.ok, provided.stdout
    (ended,) = await tenant.events.ended()
    return ended


async def test_outbound_call_answers_the_providers_digest_challenge(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The trunk's credentials answer a 401; SIPp checks the digest (wrong -> 403)."""
    scenario = provider_answers(r"INVITE sip:0612345678@", username="0612345", password="s3cret")
    ended = await _out_through_trunk(
        router,
        tenant,
        tmp_path,
        scenario,
        lambda _: {"username": "0612345", "password": "s3cret"},
    )
    assert tenant.events.names(ended.call_id) == ["created", "ringing", "answered", "ended"]


async def test_no_class_at_all_keeps_unknown_numbers_not_found(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _caller(tenant, standard=None)
    await _refused(router, tenant, tmp_path, caller, "0612345678", 404)


# -- the electronic lock (LOCK-01..10, EXT-12) ---------------------------------------------


async def _locked_setup(
    tenant: Tenant, tmp_path: Path, lock: dict[str, Any], pin: str | None = None
) -> str:
    """Standard class denies 09X. by rule 0; restricted denies it by default: the 403's
    detail says which class the lock selected, without a provider."""
    std = await _class(tenant, "std", [{"pattern": "09X.", "action": "deny"}])
    rst = await _class(tenant, "rst", [])
    return await _caller(tenant, standard=std, restricted=rst, lock=lock, pin=pin)


async def test_open_mode_always_uses_the_standard_class_COS_03_LOCK_02(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _locked_setup(tenant, tmp_path, {"unlock_mode": "open"})
    await _service(router, tenant, tmp_path, caller, "*70")
    await _refused(router, tenant, tmp_path, caller, "0912345", 403)
    ended = await tenant.events.ended(2)
    service = next(e for e in ended if e.dialled == "*70")
    assert (service.cause, service.detail) == ("service", "lock of 200: always_open")
    call = next(e for e in ended if e.dialled == "0912345")
    assert call.detail.startswith("standard class of 200")


async def test_code_mode_per_call_unlock_covers_one_call_LOCK_03_06_10(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _locked_setup(tenant, tmp_path, {"unlock_mode": "code", "policy": "per_call"})
    await _refused(router, tenant, tmp_path, caller, "0911111", 403)
    await _service(router, tenant, tmp_path, caller, "*71")
    await _refused(router, tenant, tmp_path, caller, "0922222", 403)
    await _refused(router, tenant, tmp_path, caller, "0933333", 403)
    ended = {e.dialled: e for e in await tenant.events.ended(4)}
    assert ended["0911111"].detail.startswith("restricted class of 200")
    assert ended["*71"].detail == "unlock of 200: unlocked"
    assert ended["0922222"].detail.startswith("standard class of 200")
    assert ended["0933333"].detail.startswith("restricted class of 200")


async def test_password_mode_needs_the_services_pin_LOCK_04_09_EXT_12(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _locked_setup(
        tenant, tmp_path, {"unlock_mode": "password", "policy": "until_relocked"}, pin="4711"
    )
    await _refused(router, tenant, tmp_path, caller, "*71", 403)
    await _refused(router, tenant, tmp_path, caller, "*719999", 403)
    await _service(router, tenant, tmp_path, caller, "*714711")
    await _refused(router, tenant, tmp_path, caller, "0911111", 403)
    await _refused(router, tenant, tmp_path, caller, "0922222", 403)
    await _service(router, tenant, tmp_path, caller, "*70")
    await _refused(router, tenant, tmp_path, caller, "0933333", 403)
    ended = {e.dialled: e for e in await tenant.events.ended(7)}
    assert ended["*71"].detail == "unlock of 200: pin_required"
    assert ended["*719999"].detail == "unlock of 200: wrong_pin"
    assert ended["*714711"].detail == "unlock of 200: unlocked"
    # until relocked: two calls, both standard (LOCK-09)
    assert ended["0911111"].detail.startswith("standard class")
    assert ended["0922222"].detail.startswith("standard class")
    assert ended["0933333"].detail.startswith("restricted class")


async def test_wrong_pins_are_throttled_EXT_12(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _locked_setup(
        tenant, tmp_path, {"unlock_mode": "password", "policy": "until_relocked"}, pin="4711"
    )
    for wrong in ("*711", "*712", "*713"):
        await _refused(router, tenant, tmp_path, caller, wrong, 403)
    # the right PIN is refused unread while blocked
    await _refused(router, tenant, tmp_path, caller, "*714711", 403)
    ended = {e.dialled: e for e in await tenant.events.ended(4)}
    assert ended["*713"].detail == "unlock of 200: wrong_pin"
    assert ended["*714711"].detail == "unlock of 200: throttled"


async def test_auto_relock_after_the_duration_in_seconds_LOCK_07_08(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _locked_setup(
        tenant, tmp_path, {"unlock_mode": "code", "policy": "auto_relock", "duration": 2}
    )
    await _service(router, tenant, tmp_path, caller, "*71")
    await _refused(router, tenant, tmp_path, caller, "0911111", 403)
    unlocked = {e.dialled: e for e in await tenant.events.ended(2)}
    # the lock is judged against the clock when read: the passing of time is the input
    await asyncio.sleep(2.2)
    await _refused(router, tenant, tmp_path, caller, "0922222", 403)
    ended = {e.dialled: e for e in await tenant.events.ended(3)}
    assert unlocked["0911111"].detail.startswith("standard class")
    assert ended["0922222"].detail.startswith("restricted class")


# -- incoming calls from a trunk (OVF-01) ----------------------------------------------------


async def _wait_trunk(router: Router, provider: Sipp) -> None:
    gateway = router.service.b2bua.trunks  # type: ignore[union-attr]
    await gateway.wait_for(lambda: gateway.match(("127.0.0.1", provider.port)) is not None)


async def test_incoming_trunk_call_rings_the_did_extension_with_origin_external_OVF_01(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    await tenant.extension("201")
    desk = await tenant.account("desk", "201")
    device = Sipp(tmp_path, "desk", device_answers(200))
    await device.start_uas()
    await tenant.register(desk, device.address)
    provider = Sipp(tmp_path, "provider", provider_calls("+390612345"))
    await _trunk(tenant, provider, dids=[{"number": "+390612345", "extension": "201"}])
    await _wait_trunk(router, provider)
    result = await provider.call(router.address)
    assert result.ok, result.stdout
    assert (await device.wait()).ok
    (ended,) = await tenant.events.ended()
    assert (ended.origin, ended.callee_extension, ended.dialled) == (
        "external",
        "201",
        "+390612345",
    )
    assert ended.caller_extension == "+390255501"


async def test_incoming_trunk_call_follows_the_external_overflow_OVF_01(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """201 is not registered: its external-origin 'unavailable' rule sends to 202."""
    external = {"unavailable": {"type": "extension", "target": "202"}}
    internal = {"unavailable": {"type": "hangup", "target": None}}
    await tenant.extension("201", {"overflow": {"external": external, "internal": internal}})
    await tenant.extension("202")
    desk = await tenant.account("desk", "202")
    device = Sipp(tmp_path, "desk", device_answers(200))
    await device.start_uas()
    await tenant.register(desk, device.address)
    provider = Sipp(tmp_path, "provider", provider_calls("0612345"))
    await _trunk(tenant, provider, dids=[{"number": "0612345", "extension": "201"}])
    await _wait_trunk(router, provider)
    assert (await provider.call(router.address)).ok
    assert (await device.wait()).ok
    (ended,) = await tenant.events.ended()
    assert (ended.origin, ended.callee_extension) == ("external", "202")


async def test_unknown_did_is_not_found_and_unknown_sources_are_refused(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    await tenant.extension("201")
    provider = Sipp(tmp_path, "provider", provider_calls("+390699999", final=404))
    await _trunk(tenant, provider, dids=[{"number": "+390612345", "extension": "201"}])
    await _wait_trunk(router, provider)
    assert (await provider.call(router.address)).ok
    # a host no trunk names (the trunk's own host matches on any port)
    stranger = Sipp(tmp_path, "stranger", provider_calls("+390612345", final=403), ip="127.0.0.2")
    assert (await stranger.call(router.address)).ok


async def test_trunk_registers_with_digest_and_refreshes(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The provider challenges, checks the digest, grants 2 s; the router refreshes."""
    provider = Sipp(tmp_path, "registrar", PROVIDER_SCENARIO.read_text())
    await provider.start_uas()
    trunk_id = await _trunk(
        tenant, provider, username="0612345", password="s3cret", register=True, expires=60
    )
    result = await provider.wait(20)
    assert result.ok, result.stdout
    await _request(tenant.api, "DELETE", f"/api/v1/tenants/{tenant.name}/trunks/{trunk_id}", {})


async def test_a_removed_trunk_unregisters_at_the_provider(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """Deleting a registered trunk sends REGISTER with Expires: 0 (challenge answered), so
    the provider stops routing calls here."""
    provider = Sipp(tmp_path, "registrar", UNREGISTER_SCENARIO.read_text())
    await provider.start_uas()
    trunk_id = await _trunk(tenant, provider, username="0612345", password="s3cret", register=True)
    gateway = router.service.b2bua.trunks  # type: ignore[union-attr]
    name = f"telco{provider.port}"
    await gateway.wait_for(lambda: gateway.states.get(name) is TrunkState.REGISTERED)
    await _request(tenant.api, "DELETE", f"/api/v1/tenants/{tenant.name}/trunks/{trunk_id}", {})
    result = await provider.wait(20)
    assert result.ok, result.stdout


# -- ENUM (FEAT-07) -------------------------------------------------------------------------


class _EnumServer(asyncio.DatagramProtocol):
    """NAPTR answers for the numbers in ``records`` (E.164 -> SIP URI)."""

    records: dict[str, str] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        name = query.question[0].name
        labels = name.to_text().removesuffix(f".{ENUM_SUFFIX}.").split(".")
        e164 = "+" + "".join(reversed(labels))
        uri = self.records.get(e164)
        if uri is not None:
            record = f'10 100 "u" "E2U+sip" "!^.*$!{uri}!" .'
            response.answer.append(
                dns.rrset.from_text_list(name, 60, dns.rdataclass.IN, dns.rdatatype.NAPTR, [record])
            )
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture(scope="module")
async def enum_router(
    config_api: ConfigApi, router_db: str, nats_url: str, bus: Bus
) -> AsyncIterator[Router]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_EnumServer, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with serve_router(
            config_api, router_db, nats_url, bus, CENTRALINO_ENUM_NAMESERVER=f"127.0.0.1:{port}"
        ) as running:
            yield running
    finally:
        transport.close()


async def test_enum_hit_is_called_directly_and_a_miss_uses_the_trunk_FEAT_07(
    enum_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    await _request(
        tenant.api,
        "PATCH",
        f"/api/v1/tenants/{tenant.name}/numbering-plan",
        {"country_code": "39", "enum_suffix": ENUM_SUFFIX},
    )
    direct = Sipp(tmp_path, "direct", provider_answers(r"INVITE sip:alice@127\.0\.0\.1"))
    _EnumServer.records["+39061111"] = f"sip:alice@127.0.0.1:{direct.port}"
    provider = Sipp(tmp_path, "provider", provider_answers(r"INVITE sip:062222@127\.0\.0\.1"))
    trunk = await _trunk(tenant, provider)
    std = await _class(tenant, "std", [{"pattern": "0X.", "action": "allow", "trunk_id": trunk}])
    caller = await _caller(tenant, standard=std)
    await direct.start_uas()
    await provider.start_uas()
    hit = await Sipp(tmp_path, "hit", caller_answered(caller, tenant.name, "0039061111")).call(
        enum_router.address
    )
    assert hit.ok, hit.stdout
    assert (await direct.wait()).ok
    miss = await Sipp(tmp_path, "miss", caller_answered(caller, tenant.name, "062222")).call(
        enum_router.address
    )
    assert miss.ok, miss.stdout
    assert (await provider.wait()).ok
    ended = {e.dialled: e for e in await tenant.events.ended(2)}
    assert ended["0039061111"].callee_account == "enum"
    assert ended["062222"].callee_account == f"trunk:telco{provider.port}"


# -- call pickup (PICK-01..03) ---------------------------------------------------------------

COMPLETED_ELSEWHERE = r'cause=200;text="Call completed elsewhere"'


async def _pickup_setup(tenant: Tenant) -> tuple[str, str, str]:
    """200 calls; 201 is in group "desk"; 202 may pick up from it; 203 is a member of the
    group too, which by itself allows nothing (PICK-03)."""
    group = await tenant.api.post(f"/api/v1/tenants/{tenant.name}/pickup-groups", {"name": "desk"})
    gid = str(group["id"])
    caller = await _caller(tenant, standard=None)
    await tenant.extension("201", {"pickup": {"member_of": [gid]}})
    await tenant.extension("202", {"pickup": {"authorised": [gid]}})
    await tenant.extension("203", {"pickup": {"member_of": [gid]}})
    picker = await tenant.account("picker", "202")
    outsider = await tenant.account("outsider", "203")
    return caller, picker, outsider


async def _ringing(tenant: Tenant) -> str:
    """Wait for the call to ring (the event, not a delay) and return its id."""
    events = tenant.events
    async with events.changed:
        await asyncio.wait_for(
            events.changed.wait_for(
                lambda: any(e.event == "ringing" for evs in events.by_call.values() for e in evs)
            ),
            10,
        )
    return next(
        cid for cid, evs in events.by_call.items() if any(e.event == "ringing" for e in evs)
    )


async def _picked_up(
    tenant: Tenant, tmp_path: Path, rings_at: Router, picks_at: Router, code: str
) -> tuple[str, dict[str, Any]]:
    """201 rings for 200 through ``rings_at``; 202 dials ``code`` through ``picks_at`` and
    gets the call. Returns the call's id and the ended events by call id."""
    caller, picker, _ = await _pickup_setup(tenant)
    desk = await tenant.account("desk", "201")
    device = Sipp(tmp_path, "desk", device_rings_until_cancelled(COMPLETED_ELSEWHERE))
    await device.start_uas()
    await tenant.register(desk, device.address)
    call = asyncio.create_task(
        Sipp(tmp_path, "caller", caller_answered(caller, tenant.name, "201", hold_ms=800)).call(
            rings_at.address
        )
    )
    call_id = await _ringing(tenant)
    taken = await Sipp(
        tmp_path, "picker", caller_service(picker, tenant.name, code, declined=False)
    ).call(picks_at.address)
    assert taken.ok, taken.stdout
    result = await call
    assert result.ok, result.stdout
    assert (await device.wait()).ok
    ended = {e.call_id: e for e in await tenant.events.ended(2)}
    picked = ended[call_id]
    assert (picked.cause, picked.callee_extension, picked.callee_account) == (
        "normal",
        "202",
        picker,
    )
    return call_id, ended


@pytest.mark.parametrize("code", ["*8", "*8201"])
async def test_pickup_takes_the_call_ringing_in_an_authorised_group_PICK_01_02(
    router: Router, tenant: Tenant, tmp_path: Path, code: str
) -> None:
    call_id, ended = await _picked_up(tenant, tmp_path, router, router, code)
    assert tenant.events.names(call_id) == ["created", "ringing", "answered", "ended"]
    (pickup,) = [e for cid, e in ended.items() if cid != call_id]
    assert (pickup.cause, pickup.dialled) == ("picked_up", code)


async def test_pickup_outside_the_authorised_groups_is_refused_PICK_03(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller, _, outsider = await _pickup_setup(tenant)
    await _refused(router, tenant, tmp_path, outsider, "*8", 480)  # nothing rings yet
    desk = await tenant.account("desk", "201")
    device = Sipp(tmp_path, "desk", device_answers(2500))
    await device.start_uas()
    await tenant.register(desk, device.address)
    call = asyncio.create_task(
        Sipp(tmp_path, "caller", caller_answered(caller, tenant.name, "201")).call(router.address)
    )
    call_id = await _ringing(tenant)
    await _refused(router, tenant, tmp_path, outsider, "*8", 403)
    await _refused(router, tenant, tmp_path, outsider, "*8201", 403)
    result = await call
    assert result.ok, result.stdout  # the refused pickups left the call ringing at 201
    ended = {e.call_id: e for e in await tenant.events.ended(4)}
    assert ended[call_id].callee_account == desk
    assert sorted(e.cause for cid, e in ended.items() if cid != call_id) == [
        "nothing_to_pick_up",
        "pickup_refused",
        "pickup_refused",
    ]


# -- transfers (OVF-01 origin transfer, LIM-02) ------------------------------------------------


async def test_blind_transfer_rings_the_target_with_transfer_overflow_OVF_01(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """201 answers and REFERs the caller to 202; 202 has no device and overflows, for
    origin transfer only, to 203, which gets a delayed offer and answers."""
    caller = await _caller(tenant, standard=None)
    await tenant.extension("201")
    transfer = {"unavailable": {"type": "extension", "target": "203"}}
    await tenant.extension("202", {"overflow": {"transfer": transfer}})
    await tenant.extension("203")
    desk = await tenant.account("desk", "201")
    target = await tenant.account("target", "203")
    transferor = Sipp(tmp_path, "desk", device_transfers(f"sip:202@{tenant.name}"))
    answerer = Sipp(tmp_path, "target", target_answers_delayed_offer())
    for uas, account in ((transferor, desk), (answerer, target)):
        await uas.start_uas()
        await tenant.register(account, uas.address)
    result = await Sipp(tmp_path, "caller", caller_transferred(caller, tenant.name, "201")).call(
        router.address
    )
    assert result.ok, result.stdout
    assert (await transferor.wait()).ok
    assert (await answerer.wait()).ok
    (ended,) = await tenant.events.ended()
    # each event is published once per call: the ended event names the final party
    assert tenant.events.names(ended.call_id) == [
        "created",
        "ringing",
        "answered",
        "transferred",
        "ended",
    ]
    assert (ended.origin, ended.callee_extension, ended.callee_account) == (
        "transfer",
        "203",
        target,
    )
    assert ended.cause == "normal"


@pytest.fixture
async def phone_201(tenant: Tenant) -> AsyncIterator[ScriptedPhone]:
    """The transferor: a scripted phone holding the transferred call and the consultation."""
    await tenant.extension("201", {"limits": {"call_limit": 2}})
    desk = await tenant.account("desk", "201")
    loop = asyncio.get_running_loop()
    transport, phone = await loop.create_datagram_endpoint(
        lambda: ScriptedPhone(desk, tenant.name), local_addr=("127.0.0.1", 0)
    )
    await tenant.register(desk, phone.address)
    yield phone
    transport.close()


async def _attended_transfer(
    tenant: Tenant, tmp_path: Path, phone: ScriptedPhone, held_at: Router, consult_at: Router
) -> None:
    """200 calls 201 through ``held_at``; 201 consults 202 through ``consult_at``, then
    REFERs 200 to 202 with Replaces naming the consultation: 200 and 202 are joined (offer
    from 202, answer from 200), 201 leaves."""
    caller = await _caller(tenant, standard=None)
    await tenant.extension("202")
    consulted = await tenant.account("consulted", "202")
    party = Sipp(tmp_path, "consulted", consulted_party())
    await party.start_uas()
    await tenant.register(consulted, party.address)
    a_call = asyncio.create_task(
        Sipp(tmp_path, "caller", caller_transferred(caller, tenant.name, "201")).call(
            held_at.address
        )
    )
    held = await phone.answer(held_at.address)
    invite, _ = phone.invite("202", consult_at.address)
    consultation = phone.ack(invite, await phone.expect(200), consult_at.address)
    replaces = quote(
        f"{consultation.call_id};to-tag={consultation.remote_tag};"
        f"from-tag={consultation.local_tag}",
        safe="",
    )
    refer_to = ("Refer-To", f"<sip:202@{tenant.name}?Replaces={replaces}>")
    phone.request(held, "REFER", held_at.address, [refer_to])
    await phone.expect(202)
    # the consultation's BYE, the NOTIFY (200 OK) and the transferred call's BYE
    seen: dict[tuple[str, str], SipMessage] = {}
    while len(seen) < 3:
        msg = await phone.expect_request()
        phone.reply(msg, 200, "OK")
        seen[(msg.call_id, msg.method)] = msg
    assert set(seen) == {
        (consultation.call_id, "BYE"),
        (held.call_id, "NOTIFY"),
        (held.call_id, "BYE"),
    }
    assert seen[(held.call_id, "NOTIFY")].body.startswith(b"SIP/2.0 200")
    result = await a_call
    assert result.ok, result.stdout
    party_result = await party.wait()
    assert party_result.ok, party_result.stdout
    ended = await tenant.events.ended(2)
    joined = next(e for e in ended if e.caller_extension == "200")
    assert (joined.callee_extension, joined.cause) == ("202", "normal")
    assert "transferred" in tenant.events.names(joined.call_id)
    assert next(e for e in ended if e.call_id == consultation.call_id).cause == "transferred"


async def test_attended_transfer_joins_the_caller_and_the_consulted_party(
    router: Router, tenant: Tenant, tmp_path: Path, phone_201: ScriptedPhone
) -> None:
    await _attended_transfer(tenant, tmp_path, phone_201, router, router)


async def test_attended_transfer_with_the_consultation_on_another_replica(
    router: Router, second_router: Router, tenant: Tenant, tmp_path: Path, phone_201: ScriptedPhone
) -> None:
    """The replica holding the transferred call asks the others where the consultation
    is, and that one joins its consulted party to a leg between the two replicas."""
    await _attended_transfer(tenant, tmp_path, phone_201, router, second_router)


async def test_a_limit_of_one_blocks_the_consultation_call_LIM_02(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    caller = await _caller(tenant, standard=None)
    await tenant.extension("201", {"limits": {"call_limit": 1}})
    desk = await tenant.account("desk", "201")
    await tenant.extension("202")
    loop = asyncio.get_running_loop()
    transport, phone = await loop.create_datagram_endpoint(
        lambda: ScriptedPhone(desk, tenant.name), local_addr=("127.0.0.1", 0)
    )
    try:
        await tenant.register(desk, phone.address)
        a_call = asyncio.create_task(
            Sipp(tmp_path, "caller", caller_answered(caller, tenant.name, "201", 1500)).call(
                router.address
            )
        )
        await phone.answer(router.address)
        consultation, _ = phone.invite("202", router.address)
        refused = await phone.expect(403)
        phone.ack_refusal(consultation, refused, router.address)
        assert refused.reason == "Call Limit Reached"
        bye = await phone.expect("BYE")
        phone.reply(bye, 200, "OK", router.address)
        assert (await a_call).ok
    finally:
        transport.close()


async def test_the_caller_can_transfer_the_answered_party_too(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """200 calls 201 and REFERs it to 202: 201 takes the caller's side of the call, 202
    rings with a delayed offer, and 200 is released."""
    caller = await _caller(tenant, standard=None)
    await tenant.extension("201")
    await tenant.extension("202")
    desk = await tenant.account("desk", "201")
    target = await tenant.account("target", "202")
    transferee = Sipp(tmp_path, "desk", device_reinvited_then_hangs_up())
    answerer = Sipp(tmp_path, "target", target_answers_delayed_offer())
    for uas, account in ((transferee, desk), (answerer, target)):
        await uas.start_uas()
        await tenant.register(account, uas.address)
    scenario = caller_refers(caller, tenant.name, "201", f"sip:202@{tenant.name}")
    result = await Sipp(tmp_path, "caller", scenario).call(router.address)
    assert result.ok, result.stdout
    desk_result = await transferee.wait()
    assert desk_result.ok, desk_result.stdout
    target_result = await answerer.wait()
    assert target_result.ok, target_result.stdout
    (ended,) = await tenant.events.ended()
    assert "transferred" in tenant.events.names(ended.call_id)
    assert (ended.caller_extension, ended.callee_extension) == ("201", "202")
    assert (ended.caller_account, ended.callee_account, ended.cause) == (desk, target, "normal")


async def test_calls_out_go_through_the_trunks_outbound_proxy(
    router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The provider's host does not even resolve: the INVITE names it in the Request-URI
    but is sent to the outbound proxy."""
    await _out_through_trunk(
        router,
        tenant,
        tmp_path,
        provider_answers(r"INVITE sip:0612345678@sip\.provider\.invalid"),
        lambda proxy: {
            "host": "sip.provider.invalid",
            "outbound_proxy": "127.0.0.1",
            "outbound_proxy_port": proxy.port,
        },
    )


async def test_a_trunks_codecs_are_what_the_provider_is_offered(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The caller offers PCMA and PCMU; the trunk allows only PCMU, so the media service
    anchors the call and the provider is offered PCMU alone."""
    ended = await _out_through_trunk(
        anchored_router,
        tenant,
        tmp_path,
        provider_answers(r"m=audio [0-9]+ RTP/AVP 0( 101)?\r?\n"),
        lambda _: {"codecs": ["PCMU"]},
    )
    assert not ended.direct_media


@pytest.fixture(scope="module")
async def second_router(
    config_api: ConfigApi, router_db: str, nats_url: str, bus: Bus
) -> AsyncIterator[Router]:
    """Another router replica on the same NATS and config."""
    async with serve_router(config_api, router_db, nats_url, bus) as running:
        yield running


async def test_pickup_finds_a_call_ringing_on_another_router_replica_PICK_01(
    router: Router, second_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The call rings through one replica, the picker's *8 reaches the other: the pickup
    is sent on to the replica holding the call, which bridges it."""
    call_id, ended = await _picked_up(tenant, tmp_path, second_router, router, "*8")
    assert ended[call_id].router == second_router.service.settings.instance_id

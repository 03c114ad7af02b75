"""Calls anchored through a real media service (ACC-14, ACC-22, ACC-24), driven by SIPp."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MEDIA_RTP, Router, Tenant
from .sipp import Sipp, caller_anchored, device_answers, device_early_media, expect_early_media

pytestmark = pytest.mark.e2e

#: SDP naming the media service's address and one of its RTP ports (POSIX regex for SIPp)
ANCHOR = r"c=IN IP4 127\.0\.0\.1.*m=audio 36[67][0-9][0-9] RTP/AVP"
#: the end of the m= line: nothing but the formats before it
EOL = r"( 101)?[[:cntrl:]]"
PCMA_ONLY = """v=0
o=- 1 2 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000"""


def test_media_ports_are_the_ones_the_pattern_expects() -> None:
    assert MEDIA_RTP == (36600, 36799)


async def _callee(tenant: Tenant, tmp_path: Path, codecs: list[str], expect: str) -> Sipp:
    await tenant.extension("201")
    desk = await tenant.account("desk", "201", direct_media=False, codecs=codecs)
    uas = Sipp(tmp_path, "desk", device_answers(100, expect=expect))
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    return uas


async def _caller(tenant: Tenant, codecs: list[str] | None = None) -> str:
    await tenant.extension("200", first_name="Ada", last_name="Lovelace")
    return await tenant.account("caller", "200", direct_media=False, codecs=codecs)


async def test_call_is_anchored_and_each_device_gets_its_accounts_codecs_ACC_22(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The device is offered the media service's address with exactly its account's
    codecs in their order (PCMU then G722, then telephone-event), not the caller's."""
    caller = await _caller(tenant)
    uas = await _callee(tenant, tmp_path, ["PCMU", "G722"], ANCHOR + " 0 9" + EOL)
    scenario = caller_anchored(caller, tenant.name, "201", answer=ANCHOR + r" 8")
    result = await Sipp(tmp_path, "caller", scenario).call(anchored_router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok
    (ended,) = await tenant.events.ended()
    assert ended.cause == "normal" and not ended.direct_media


async def test_no_common_codec_is_transcoded(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """The caller speaks only PCMA, the device's account only PCMU: the call connects and
    each side keeps its own codec (the media service transcodes)."""
    caller = await _caller(tenant, ["PCMA"])
    uas = await _callee(tenant, tmp_path, ["PCMU"], ANCHOR + " 0" + EOL)
    scenario = caller_anchored(caller, tenant.name, "201", answer=ANCHOR + r" 8", offer=PCMA_ONLY)
    result = await Sipp(tmp_path, "caller", scenario).call(anchored_router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok


async def test_hold_reinvite_is_answered_by_the_anchor(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """A sendonly re-INVITE is answered recvonly; the device sees no re-INVITE (its
    scenario expects the BYE next and would fail otherwise)."""
    caller = await _caller(tenant)
    uas = await _callee(tenant, tmp_path, ["PCMA"], ANCHOR)
    scenario = caller_anchored(caller, tenant.name, "201", answer=ANCHOR, hold=r"a=recvonly")
    result = await Sipp(tmp_path, "caller", scenario).call(anchored_router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok


async def test_media_inactivity_ends_the_call(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """No RTP at all (SIPp sends none): the media service reports the session inactive and
    the router hangs up both sides."""
    caller = await _caller(tenant)
    uas = await _callee(tenant, tmp_path, ["PCMA"], ANCHOR)
    scenario = caller_anchored(caller, tenant.name, "201", answer=ANCHOR, wait_for_bye=True)
    result = await Sipp(tmp_path, "caller", scenario).call(anchored_router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok
    (ended,) = await tenant.events.ended()
    assert ended.cause == "media_timeout"


async def test_early_media_is_anchored_too(
    anchored_router: Router, tenant: Tenant, tmp_path: Path
) -> None:
    """A 183 with SDP reaches the caller with the anchor's address, not the device's."""
    caller = await _caller(tenant)
    await tenant.extension("201")
    desk = await tenant.account("desk", "201", direct_media=False)
    uas = Sipp(tmp_path, "desk", device_early_media())
    await uas.start_uas()
    await tenant.register(desk, uas.address)
    scenario = expect_early_media(caller_anchored(caller, tenant.name, "201"), ANCHOR)
    result = await Sipp(tmp_path, "caller", scenario).call(anchored_router.address)
    assert result.ok, result.stdout
    assert (await uas.wait()).ok

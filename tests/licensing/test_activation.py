"""Product licence activation and listing over gRPC (LIC-02, LIC-03, LIC-04), on real
PostgreSQL and NATS, with keys minted in the test."""

from __future__ import annotations

import asyncio
import time

import grpc
import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.aio.msg import Msg

from centralino.bus import tenant_wildcard
from centralino.v1 import licensing_pb2 as pb

from .conftest import DAY, Running, mint, reason_of


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value


async def test_lic_03_valid_key_is_listed_with_the_lic_02_fields(licensing: Running) -> None:
    expires = time.time() + 30 * DAY
    key = mint("call-center", channels=7, licence_id="LIC-CC-1", expires_at=expires)
    before = time.time()
    activated = await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=key))
    assert activated.id == "LIC-CC-1" and activated.valid

    listed = (await licensing.stub.ListLicences(pb.ListLicencesRequest())).licences
    assert len(listed) == 1
    row = listed[0]
    assert row.id == "LIC-CC-1"
    assert row.key == key
    assert (row.product, row.product_name) == ("call-center", "Centralino Call Center")
    assert before * 1000 - 1000 <= row.activated_unix_ms <= time.time() * 1000 + 1000
    assert row.expires_unix_ms == int(expires) * 1000
    assert row.channels == 7


@pytest.mark.parametrize(
    ("key_args", "code", "reason", "says"),
    [
        ({"key": Ed25519PrivateKey.generate()}, "INVALID_ARGUMENT", "bad_signature", "signature"),
        ({"serial": "PBX-SOMEONE-ELSE"}, "INVALID_ARGUMENT", "wrong_serial", "PBX-SOMEONE-ELSE"),
        (
            {"valid_from": time.time() - 9 * DAY, "expires_at": time.time() - DAY},
            "INVALID_ARGUMENT",
            "expired",
            "expired on",
        ),
        ({"valid_from": time.time() + DAY}, "INVALID_ARGUMENT", "not_yet_valid", "valid from"),
    ],
    ids=["wrong-signature", "wrong-serial", "expired", "not-yet-valid"],
)
async def test_lic_03_refusals_say_exactly_why(
    licensing: Running, key_args: dict[str, object], code: str, reason: str, says: str
) -> None:
    error = await refused(
        licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=mint(**key_args)))  # type: ignore[arg-type]
    )
    assert error.code().name == code
    assert reason_of(error) == reason
    assert says in (error.details() or "")
    assert not (await licensing.stub.ListLicences(pb.ListLicencesRequest())).licences


async def test_lic_03_duplicate_is_refused_even_when_concurrent(licensing: Running) -> None:
    key = mint("multi-tenant", licence_id="LIC-DUP")
    results = await asyncio.gather(
        *(licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=key)) for _ in range(5)),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, pb.Licence)]
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) == 1 and len(errors) == 4
    assert all(e.code() == grpc.StatusCode.ALREADY_EXISTS for e in errors)
    assert all(reason_of(e) == "duplicate" and "LIC-DUP" in (e.details() or "") for e in errors)


async def test_renewed_key_replaces_the_older_issue(licensing: Running) -> None:
    now = time.time()
    old = mint("cti-pro", channels=2, licence_id="LIC-R", issued_at=now - 7200)
    new = mint("cti-pro", channels=5, licence_id="LIC-R", issued_at=now - 60)
    await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=new))
    error = await refused(licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=old)))
    assert reason_of(error) == "duplicate"
    listed = (await licensing.stub.ListLicences(pb.ListLicencesRequest())).licences
    assert [(lic.id, lic.channels) for lic in listed] == [("LIC-R", 5)]


async def test_g729_keys_are_refused_in_the_product_list(licensing: Running) -> None:
    """G729-04: G.729 licences are activated separately."""
    error = await refused(
        licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=mint("g729")))
    )
    assert reason_of(error) == "wrong_kind"
    assert "G.729 licence list" in (error.details() or "")


async def test_garbage_key_is_refused_not_crashed(licensing: Running) -> None:
    error = await refused(
        licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key="\x00CNL1.\xff..."))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(error) == "malformed"


async def test_activation_and_removal_are_announced_on_nats(
    licensing: Running, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    events: asyncio.Queue[pb.LicenceEvent] = asyncio.Queue()

    async def on_event(msg: Msg) -> None:
        await events.put(pb.LicenceEvent.FromString(msg.data))

    try:
        await nc.subscribe(tenant_wildcard("_system", "licensing"), cb=on_event)
        await nc.flush()
        key = mint("attendant-console-cti", channels=4, licence_id="LIC-EV")
        await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=key))
        event = await asyncio.wait_for(events.get(), 5)
        assert (event.licence_id, event.event, event.channels) == ("LIC-EV", "activated", 4)
        assert event.meta.tenant == "_system"
        await licensing.stub.RemoveLicence(pb.LicenceRef(id="LIC-EV"))
        event = await asyncio.wait_for(events.get(), 5)
        assert (event.licence_id, event.event) == ("LIC-EV", "removed")
    finally:
        await nc.close()
    error = await refused(licensing.stub.RemoveLicence(pb.LicenceRef(id="LIC-EV")))
    assert error.code() == grpc.StatusCode.NOT_FOUND

"""G.729 licences (G729-01..04): the three ordered steps, the separate list, the download."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from centralino.v1 import licensing_pb2 as pb
from centralino_licensing.errors import FailedPrecondition
from centralino_licensing.g729_steps import TRANSITIONS, Action, Step, advance

from .conftest import DAY, PERSON, SERIAL, Running, activate_g729, mint, reason_of


@pytest.mark.parametrize(
    ("step", "action"),
    [(s, a) for s in Step for a in Action if a not in TRANSITIONS[s]],
)
def test_g729_02_every_out_of_order_action_is_refused(step: Step, action: Action) -> None:
    with pytest.raises(FailedPrecondition) as err:
        advance(step, action)
    assert err.value.reason == "step_out_of_order"


def test_g729_02_steps_run_in_the_manual_order() -> None:
    step = Step.ACCEPT_TERMS
    for action in (Action.ACCEPT_TERMS, Action.PERSONAL_DATA, Action.ACTIVATE):
        step = advance(step, action)
    assert step is Step.DONE


async def expect_refusal(call: object, code: grpc.StatusCode, reason: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() == code, err.value.details()
    assert reason_of(err.value) == reason
    return err.value.details() or ""


async def test_g729_02_steps_cannot_be_skipped_or_reordered(licensing: Running) -> None:
    stub = licensing.stub
    started = await stub.StartG729Activation(
        pb.StartG729ActivationRequest(key=mint("g729", channels=4))
    )
    assert started.next_step == "accept_terms" and started.terms_text and started.channels == 4
    ref = pb.G729ActivationRef(activation_id=started.activation_id)
    data = pb.SubmitG729PersonalDataRequest(
        activation_id=started.activation_id, personal_data=pb.PersonalData(**PERSON)
    )
    fail = grpc.StatusCode.FAILED_PRECONDITION

    # Step 3 and Activate before step 2 are refused, naming the expected step.
    says = await expect_refusal(stub.SubmitG729PersonalData(data), fail, "step_out_of_order")
    assert "accept_terms" in says
    await expect_refusal(stub.CompleteG729Activation(ref), fail, "step_out_of_order")
    # Declining the terms, or accepting another version, does not advance.
    terms = pb.AcceptG729TermsRequest(
        activation_id=started.activation_id, accepted=False, terms_version=started.terms_version
    )
    await expect_refusal(
        stub.AcceptG729Terms(terms), grpc.StatusCode.INVALID_ARGUMENT, "terms_not_accepted"
    )
    terms.accepted, terms.terms_version = True, "1999-1"
    await expect_refusal(
        stub.AcceptG729Terms(terms), grpc.StatusCode.INVALID_ARGUMENT, "terms_version"
    )
    terms.terms_version = started.terms_version
    assert (await stub.AcceptG729Terms(terms)).next_step == "personal_data"
    await expect_refusal(stub.AcceptG729Terms(terms), fail, "step_out_of_order")
    await expect_refusal(stub.CompleteG729Activation(ref), fail, "step_out_of_order")
    bad = pb.SubmitG729PersonalDataRequest(
        activation_id=started.activation_id,
        personal_data=pb.PersonalData(**{**PERSON, "email": "not-an-address"}),
    )
    await expect_refusal(
        stub.SubmitG729PersonalData(bad), grpc.StatusCode.INVALID_ARGUMENT, "personal_data"
    )
    assert (await stub.SubmitG729PersonalData(data)).next_step == "activate"
    assert not (await stub.ListG729Licences(pb.ListLicencesRequest())).licences

    licence = await stub.CompleteG729Activation(ref)  # G729-03
    assert licence.channels == 4 and licence.valid
    await expect_refusal(
        stub.CompleteG729Activation(ref), grpc.StatusCode.NOT_FOUND, "unknown_activation"
    )


async def test_g729_01_04_listed_separately_with_a_download(licensing: Running) -> None:
    expires = int(time.time() + 90 * DAY)
    key = mint("g729", channels=8, licence_id="G729-A", expires_at=expires)
    await activate_g729(licensing.stub, key)
    await licensing.stub.ActivateLicence(pb.ActivateLicenceRequest(key=mint("call-center")))

    g729 = (await licensing.stub.ListG729Licences(pb.ListLicencesRequest())).licences
    products = (await licensing.stub.ListLicences(pb.ListLicencesRequest())).licences
    assert [lic.id for lic in g729] == ["G729-A"]
    assert [lic.product for lic in products] == ["call-center"]
    row = g729[0]
    assert (row.key, row.channels, row.expires_unix_ms) == (key, 8, expires * 1000)

    document = await licensing.stub.DownloadG729Licence(pb.LicenceRef(id=row.id))
    assert document.filename == row.download_name == "g729-G729-A.lic"
    content = json.loads(document.content)
    assert content["key"] == key and content["serial"] == SERIAL and content["channels"] == 8
    assert content["licensee"]["email"] == PERSON["email"]
    assert content["licensee"]["country"] == "GB"
    await expect_refusal(
        licensing.stub.DownloadG729Licence(pb.LicenceRef(id=products[0].id)),
        grpc.StatusCode.NOT_FOUND,
        "unknown_licence",
    )


async def test_g729_key_is_checked_at_step_one(licensing: Running) -> None:
    stub = licensing.stub
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await expect_refusal(
        stub.StartG729Activation(pb.StartG729ActivationRequest(key=mint("g729", serial="X-1"))),
        invalid,
        "wrong_serial",
    )
    await expect_refusal(
        stub.StartG729Activation(pb.StartG729ActivationRequest(key=mint("cti-pro"))),
        invalid,
        "wrong_kind",
    )
    key = mint("g729")
    await activate_g729(stub, key)
    await expect_refusal(
        stub.StartG729Activation(pb.StartG729ActivationRequest(key=key)),
        grpc.StatusCode.ALREADY_EXISTS,
        "duplicate",
    )
    await expect_refusal(
        stub.AcceptG729Terms(pb.AcceptG729TermsRequest(activation_id="nope", accepted=True)),
        grpc.StatusCode.NOT_FOUND,
        "unknown_activation",
    )

"""Licence keys (LIC-03, LIC-04): real Ed25519 keys minted in the test, no infrastructure."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from centralino_licensing.errors import LicenceKeyError
from centralino_licensing.keys import (
    LicenceClaims,
    PublicKeyError,
    check_activation,
    dev_public_key,
    load_public_key,
    sign_key,
    verify_key,
)
from centralino_licensing.products import PRODUCTS, Kind

from .conftest import SERIAL, mint, vendor_key

NOW = time.time()


def test_products_are_exactly_those_of_lic_04() -> None:
    """LIC-04: seven products under our names, plus G.729 kept apart (G729-04)."""
    products = {slug for slug, p in PRODUCTS.items() if p.kind is Kind.PRODUCT}
    assert products == {
        "multi-tenant",
        "cti-pro",
        "cti-phone",
        "attendant-console-cti",
        "attendant-console-phone",
        "call-center",
        "upgrade-mini-to-lite",
    }
    assert PRODUCTS["g729"].kind is Kind.G729


def test_valid_key_round_trips_its_claims() -> None:
    """LIC-03: a valid key verifies against the shipped dev public key."""
    key = mint("multi-tenant", channels=3, licence_id="LIC-42")
    claims = verify_key(key, dev_public_key())
    assert (claims.id, claims.product, claims.channels, claims.serial) == (
        "LIC-42",
        "multi-tenant",
        3,
        SERIAL,
    )
    check_activation(claims, SERIAL, NOW)


def test_key_signed_by_another_vendor_is_refused() -> None:
    key = mint(key=Ed25519PrivateKey.generate())
    with pytest.raises(LicenceKeyError) as err:
        verify_key(key, dev_public_key())
    assert err.value.reason == "bad_signature"


def test_tampered_payload_is_refused() -> None:
    """Changing one claim (more channels) breaks the signature."""
    prefix, payload, signature = mint(channels=2).split(".")
    other = mint(channels=200).split(".")[1]
    with pytest.raises(LicenceKeyError) as err:
        verify_key(f"{prefix}.{other}.{signature}", dev_public_key())
    assert err.value.reason == "bad_signature"
    assert payload != other


def test_wrong_serial_names_both_serials() -> None:
    claims = verify_key(mint(serial="PBX-OTHER"), dev_public_key())
    with pytest.raises(LicenceKeyError) as err:
        check_activation(claims, SERIAL, NOW)
    assert err.value.reason == "wrong_serial"
    assert "PBX-OTHER" in err.value.message and SERIAL in err.value.message


def test_expired_and_not_yet_valid_keys_are_refused() -> None:
    expired = verify_key(
        mint(valid_from=NOW - 10 * 86400, expires_at=NOW - 86400), dev_public_key()
    )
    with pytest.raises(LicenceKeyError) as err:
        check_activation(expired, SERIAL, NOW)
    assert err.value.reason == "expired"
    future = verify_key(mint(valid_from=NOW + 86400), dev_public_key())
    with pytest.raises(LicenceKeyError) as err:
        check_activation(future, SERIAL, NOW)
    assert err.value.reason == "not_yet_valid"


def test_vendor_cannot_mint_an_unknown_product() -> None:
    claims = LicenceClaims("LIC-1", "kalliope-mega", 1, SERIAL, 0, 0, None)
    with pytest.raises(LicenceKeyError) as err:
        sign_key(claims, vendor_key())
    assert err.value.reason == "unknown_product"


@pytest.mark.parametrize(
    "garbage",
    ["", "   ", "hello", "CNL1.a.b.c", "CNL2.e30.AAAA", "CNL1.!!!.AAAA", "CNL1." + "A" * 5000],
)
def test_garbage_keys_are_malformed(garbage: str) -> None:
    with pytest.raises(LicenceKeyError) as err:
        verify_key(garbage, dev_public_key())
    assert err.value.reason == "malformed"


@given(st.text(max_size=300))
def test_any_text_is_refused_with_a_licence_key_error(text: str) -> None:
    """Fuzz: nothing but LicenceKeyError escapes the parser."""
    with pytest.raises(LicenceKeyError):
        verify_key(text, dev_public_key())


def test_signed_but_malformed_claims_are_refused() -> None:
    """Even a correctly signed payload must have well-typed claims."""
    import base64
    import json

    payload = base64.urlsafe_b64encode(json.dumps({"id": "X", "channels": True}).encode())
    signed = f"CNL1.{payload.rstrip(b'=').decode()}"
    signature = base64.urlsafe_b64encode(vendor_key().sign(signed.encode())).rstrip(b"=")
    with pytest.raises(LicenceKeyError) as err:
        verify_key(f"{signed}.{signature.decode()}", dev_public_key())
    assert err.value.reason == "malformed"


def test_public_key_loads_from_pem_or_raw_base64() -> None:
    import base64

    from cryptography.hazmat.primitives import serialization

    raw = (
        vendor_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key = load_public_key(base64.b64encode(raw).decode())
    assert verify_key(mint(), key).serial == SERIAL
    with pytest.raises(PublicKeyError):
        load_public_key("bm90IGEga2V5")
    with pytest.raises(PublicKeyError):
        load_public_key("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----")

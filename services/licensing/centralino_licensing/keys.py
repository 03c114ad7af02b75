"""Licence keys: Ed25519-signed claims in one copy-pasteable string.

A key reads ``CNL1.<payload>.<signature>``: both parts unpadded base64url, the payload a
canonical JSON object (sorted keys, no spaces) and the signature Ed25519 over the ASCII bytes
``CNL1.<payload>`` so a key for another format version can never verify as this one.

Claims: ``id`` (licence id), ``product`` (a slug of :mod:`products`), ``channels``,
``serial`` (the PBX it is bound to), ``iat`` (issued), ``nbf`` (valid from) and ``exp``
(expiry, ``null`` for never), all times in Unix seconds. A renewed licence keeps its ``id``
and gets a later ``iat``.

Only the vendor holds the private key (see ``centralino-licence-vendor``); the service ships
the public key and calls :func:`verify_key` then :func:`check_activation`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from centralino_licensing.errors import LicenceKeyError
from centralino_licensing.products import PRODUCTS, Product

PREFIX = "CNL1"
# Real keys are ~300 characters; the cap keeps a pasted novel from reaching the JSON parser.
MAX_KEY_LENGTH = 2048
MAX_CHANNELS = 100_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class LicenceClaims:
    id: str
    product: str
    channels: int
    serial: str
    issued_at: int
    valid_from: int
    expires_at: int | None

    @property
    def product_info(self) -> Product:
        return PRODUCTS[self.product]

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product": self.product,
            "channels": self.channels,
            "serial": self.serial,
            "iat": self.issued_at,
            "nbf": self.valid_from,
            "exp": self.expires_at,
        }


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    if not _B64URL.match(text):
        raise LicenceKeyError("malformed", f"the key's {what} is not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise LicenceKeyError("malformed", f"the key's {what} is not valid base64url") from None


def sign_key(claims: LicenceClaims, private_key: Ed25519PrivateKey) -> str:
    """Mint a key (vendor side)."""
    validate_claims(claims)
    payload = json.dumps(claims.as_json(), sort_keys=True, separators=(",", ":")).encode()
    signed = f"{PREFIX}.{_b64encode(payload)}"
    return f"{signed}.{_b64encode(private_key.sign(signed.encode('ascii')))}"


def validate_claims(claims: LicenceClaims) -> None:
    if not _ID.match(claims.id):
        raise LicenceKeyError("malformed", f"licence id {claims.id!r} is not a valid id")
    if claims.product not in PRODUCTS:
        known = ", ".join(PRODUCTS)
        raise LicenceKeyError(
            "unknown_product", f"product {claims.product!r} is not one of: {known}"
        )
    if not 1 <= claims.channels <= MAX_CHANNELS:
        raise LicenceKeyError(
            "malformed", f"channels must be 1..{MAX_CHANNELS}, got {claims.channels}"
        )
    if not _SERIAL.match(claims.serial):
        raise LicenceKeyError("malformed", f"serial {claims.serial!r} is not a valid serial")
    if claims.expires_at is not None and claims.expires_at <= claims.valid_from:
        raise LicenceKeyError("malformed", "the licence expires before it becomes valid")


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    # bool is an int subclass in Python; a key claiming "channels": true is malformed
    if not isinstance(value, int) or isinstance(value, bool):
        raise LicenceKeyError("malformed", f"the key's claim {name!r} is not an integer")
    return value


def _optional_int_claim(payload: dict[str, Any], name: str) -> int | None:
    return None if payload.get(name) is None else _int_claim(payload, name)


def _str_claim(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise LicenceKeyError("malformed", f"the key's claim {name!r} is not a string")
    return value


def verify_key(key: str, public_key: Ed25519PublicKey) -> LicenceClaims:
    """Parse ``key`` and check its vendor signature; raises :class:`LicenceKeyError`."""
    key = key.strip()
    if not key:
        raise LicenceKeyError("malformed", "the activation key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise LicenceKeyError("malformed", f"the key is longer than {MAX_KEY_LENGTH} characters")
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise LicenceKeyError(
            "malformed", f"not a Centralino licence key (expected {PREFIX}.<payload>.<signature>)"
        )
    payload_bytes = _b64decode(parts[1], "payload")
    signature = _b64decode(parts[2], "signature")
    try:
        public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        raise LicenceKeyError(
            "bad_signature", "the key's signature does not match the vendor public key"
        ) from None
    try:
        payload = json.loads(payload_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LicenceKeyError("malformed", "the key's payload is not JSON") from None
    if not isinstance(payload, dict):
        raise LicenceKeyError("malformed", "the key's payload is not a JSON object")
    claims = LicenceClaims(
        id=_str_claim(payload, "id"),
        product=_str_claim(payload, "product"),
        channels=_int_claim(payload, "channels"),
        serial=_str_claim(payload, "serial"),
        issued_at=_int_claim(payload, "iat"),
        valid_from=_int_claim(payload, "nbf"),
        expires_at=_optional_int_claim(payload, "exp"),
    )
    validate_claims(claims)
    return claims


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_activation(claims: LicenceClaims, serial: str, now: float) -> None:
    """Refuse a verified licence that is not for this PBX or not valid at ``now``."""
    if claims.serial != serial:
        raise LicenceKeyError(
            "wrong_serial",
            f"licence {claims.id} is bound to serial {claims.serial}, this PBX is {serial}",
        )
    if now < claims.valid_from:
        raise LicenceKeyError(
            "not_yet_valid",
            f"licence {claims.id} is valid from {_when(claims.valid_from)}, not yet",
        )
    if claims.expires_at is not None and now >= claims.expires_at:
        raise LicenceKeyError(
            "expired", f"licence {claims.id} expired on {_when(claims.expires_at)}"
        )


class PublicKeyError(ValueError):
    """The configured vendor public key cannot be loaded."""


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or from base64 of the 32 raw bytes."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            raw = base64.b64decode(text, validate=True)
            if len(raw) != 32:
                raise PublicKeyError(f"a raw Ed25519 public key is 32 bytes, got {len(raw)}")
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        if isinstance(exc, PublicKeyError):
            raise
        raise PublicKeyError(f"not a PEM or base64 Ed25519 public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PublicKeyError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def dev_public_key() -> Ed25519PublicKey:
    """The development vendor key shipped with the package (its private half is not)."""
    pem = resources.files("centralino_licensing").joinpath("dev_public_key.pem").read_text()
    return load_public_key(pem)

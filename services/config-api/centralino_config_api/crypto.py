"""Secrets at rest: SIP passwords encrypted, user passwords and PINs hashed, HA1 digests.

``CENTRALINO_SECRET_KEY`` is any string of at least 16 characters (use 32 random bytes,
e.g. ``python -c 'import secrets; print(secrets.token_urlsafe(32))'``). An AES-256-GCM key
is derived from it with HKDF-SHA256, so its exact encoding does not matter; each ciphertext
carries a version byte and a random nonce, and the row id is bound as associated data so a
ciphertext copied onto another account does not decrypt.
"""

from __future__ import annotations

import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE = 12


class SecretKeyError(ValueError):
    """The configured secret key is unusable, or a ciphertext was not made with it."""


class SecretBox:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise SecretKeyError("CENTRALINO_SECRET_KEY must be at least 16 characters")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"centralino sip secrets v1"
        ).derive(secret.encode())
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, bound_to: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def decrypt(self, blob: bytes, bound_to: str) -> str:
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE + 16:
            raise SecretKeyError("unknown ciphertext format")
        nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            return self._aead.decrypt(nonce, body, bound_to.encode()).decode()
        except InvalidTag:
            raise SecretKeyError(
                "cannot decrypt a stored secret: CENTRALINO_SECRET_KEY differs from the one "
                "that encrypted it"
            ) from None


def ha1(username: str, realm: str, password: str, algorithm: str) -> str:
    """RFC 7616 HA1 = H(username:realm:password) for ``MD5`` or ``SHA-256``."""
    data = f"{username}:{realm}:{password}".encode()
    if algorithm == "MD5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest()
    if algorithm == "SHA-256":
        return hashlib.sha256(data).hexdigest()
    raise ValueError(f"unsupported digest algorithm {algorithm!r}")


# argon2id with the library's RFC 9106 "low memory" profile defaults; verification is
# run in a thread by callers so the event loop is not blocked.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return "cnt_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def random_sip_password(length: int = 16) -> str:
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))

"""``centralino-licence-vendor``: the vendor's tool to make a signing key and mint licences.

    centralino-licence-vendor keygen --private-key vendor.pem      # prints the public key PEM
    centralino-licence-vendor mint --private-key vendor.pem --product cti-pro \\
        --serial PBX-123 --channels 5 --expires 2027-12-31 [--id LIC-1] [--valid-from DATE]

The private key stays with the vendor; the service only ever holds the public key
(``CENTRALINO_LICENCE_PUBLIC_KEY``). Dates are ISO 8601; a bare date means 00:00 UTC.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from centralino_licensing.errors import LicenceKeyError
from centralino_licensing.keys import LicenceClaims, sign_key
from centralino_licensing.products import PRODUCTS


class VendorError(Exception):
    """A vendor command cannot run as asked."""


def parse_time(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise VendorError(f"{text!r} is not an ISO 8601 date or date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise VendorError(f"cannot load the private key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise VendorError(f"{path} is not an Ed25519 private key")
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def keygen(path: Path) -> str:
    if path.exists():
        raise VendorError(f"{path} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return public_pem(key)


def mint(args: argparse.Namespace) -> str:
    key = load_private_key(args.private_key)
    now = int(time.time())
    claims = LicenceClaims(
        id=args.id or f"LIC-{uuid.uuid4().hex[:12].upper()}",
        product=args.product,
        channels=args.channels,
        serial=args.serial,
        issued_at=now,
        valid_from=parse_time(args.valid_from) if args.valid_from else now,
        expires_at=parse_time(args.expires) if args.expires else None,
    )
    return sign_key(claims, key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="centralino-licence-vendor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("keygen", help="create a signing key; print its public key")
    gen.add_argument("--private-key", type=Path, required=True)
    mk = commands.add_parser("mint", help="print a signed licence key")
    mk.add_argument("--private-key", type=Path, required=True)
    mk.add_argument("--product", required=True, choices=sorted(PRODUCTS))
    mk.add_argument("--serial", required=True)
    mk.add_argument("--channels", type=int, required=True)
    mk.add_argument("--expires", help="expiry (ISO 8601); omit for a licence that never expires")
    mk.add_argument("--valid-from", help="start of validity (ISO 8601); default now")
    mk.add_argument("--id", help="licence id; default a random LIC-... id")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "keygen":
            print(keygen(args.private_key), end="")
        else:
            print(mint(args))
    except (VendorError, LicenceKeyError) as exc:
        print(f"centralino-licence-vendor: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

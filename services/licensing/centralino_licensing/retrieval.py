"""Sorting the licence server's answer into the three lists of LIC-06.

- updated: a licence active here whose server key is a later issue (renewed, more channels);
- automatic: verified, for this serial, not active here, and the server allows a one-action
  import;
- manual: verified but needing an administrator (G.729 terms and personal data, or the server
  says so);
- rejected: what the server offered that this PBX would refuse, with the reason, so a broken
  or foreign server entry is visible rather than silently dropped.

Licences already active here with the same key appear in none of them. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from centralino_licensing.errors import LicenceKeyError
from centralino_licensing.keys import LicenceClaims, check_activation, verify_key
from centralino_licensing.products import Kind
from centralino_licensing.records import LicenceRecord
from centralino_licensing.server_protocol import ServerEntry


@dataclass(frozen=True, slots=True)
class Offered:
    key: str
    claims: LicenceClaims | None
    reason: str


@dataclass(slots=True)
class Retrieval:
    updated: list[Offered] = field(default_factory=list)
    automatic: list[Offered] = field(default_factory=list)
    manual: list[Offered] = field(default_factory=list)
    rejected: list[Offered] = field(default_factory=list)


def classify(
    entries: list[ServerEntry],
    local: dict[str, LicenceRecord],
    public_key: Ed25519PublicKey,
    serial: str,
    now: float,
) -> Retrieval:
    result = Retrieval()
    seen: set[str] = set()
    for entry in entries:
        key = entry.key.strip()
        try:
            claims = verify_key(key, public_key)
            check_activation(claims, serial, now)
        except LicenceKeyError as exc:
            result.rejected.append(Offered(key, None, exc.message))
            continue
        if claims.id in seen:
            result.rejected.append(Offered(key, claims, f"licence {claims.id} is listed twice"))
            continue
        seen.add(claims.id)
        mine = local.get(claims.id)
        if mine is not None:
            if claims.issued_at > mine.issued_at:
                result.updated.append(Offered(key, claims, "a renewed key for an active licence"))
            continue
        if claims.product_info.kind is Kind.G729:
            result.manual.append(Offered(key, claims, "G.729 needs terms of use and personal data"))
        elif entry.import_mode == "manual":
            result.manual.append(
                Offered(key, claims, "the licence server requires a manual import")
            )
        else:
            result.automatic.append(Offered(key, claims, ""))
    return result

"""The licensable products: exactly those of LIC-04 under Centralino's names, plus G.729."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    PRODUCT = "product"  # listed and activated in the Licence list (LIC-02/03)
    G729 = "g729"  # listed and activated separately (G729-04)


@dataclass(frozen=True, slots=True)
class Product:
    slug: str
    name: str
    kind: Kind
    per_user: bool = False  # channels are seats assigned to users (USR-06)


PRODUCTS: dict[str, Product] = {
    p.slug: p
    for p in (
        Product("multi-tenant", "Centralino Multi-Tenant", Kind.PRODUCT),
        Product("cti-pro", "Centralino CTI Pro", Kind.PRODUCT, per_user=True),
        Product("cti-phone", "Centralino CTI Phone", Kind.PRODUCT, per_user=True),
        Product("attendant-console-cti", "Centralino Attendant Console CTI", Kind.PRODUCT),
        Product("attendant-console-phone", "Centralino Attendant Console Phone", Kind.PRODUCT),
        Product("call-center", "Centralino Call Center", Kind.PRODUCT),
        Product("upgrade-mini-to-lite", "Centralino Upgrade Mini to Lite", Kind.PRODUCT),
        Product("g729", "G.729 channels", Kind.G729),
    )
}

G729 = PRODUCTS["g729"]

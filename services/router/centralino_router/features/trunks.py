"""SIP trunk settings from config, and the DID -> extension mapping of incoming calls.

config-api validates and serves trunks (gRPC ``ListTrunks``); :meth:`Trunk.from_proto`
turns one into the URIs registration and calls need.

Incoming calls from a trunk have origin external (OVF-01): the B2BUA maps the called
number with :func:`extension_for_did` and applies the extension's external-origin rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from centralino.v1 import config_pb2

from .trunk_registration import TrunkAccount


@dataclass(frozen=True, slots=True)
class Trunk:
    name: str
    registrar: str
    aor: str
    username: str
    password: str
    outbound_proxy: str | None = None
    register: bool = True
    expires: int = 3600
    codecs: tuple[str, ...] = ()  # preference order; empty: the media service's defaults
    dids: Mapping[str, str] = field(default_factory=dict)  # number -> extension
    default_extension: str | None = None
    id: str = ""  # config-api's id, what routing-class rules name

    @property
    def next_hop_uri(self) -> str:
        """Where requests go: the outbound proxy if any, else the provider's registrar."""
        return self.outbound_proxy or self.registrar

    @classmethod
    def from_proto(cls, pb: config_pb2.Trunk) -> Trunk:
        """A trunk as config-api stores it (host and port; validated there). The router
        signals over UDP only, so the stored transport is not used yet."""
        proxy = None
        if pb.outbound_proxy_host:
            proxy = f"sip:{pb.outbound_proxy_host}:{pb.outbound_proxy_port or 5060}"
        return cls(
            name=pb.name,
            registrar=f"sip:{pb.host}:{pb.port or 5060}",
            aor=f"sip:{pb.username or 'pbx'}@{pb.host}",
            username=pb.username,
            password=pb.password,
            outbound_proxy=proxy,
            register=pb.register and bool(pb.username),
            expires=pb.expires or 3600,
            codecs=tuple(pb.codecs),
            dids={d.number: d.extension for d in pb.dids},
            default_extension=pb.default_extension or None,
            id=pb.id,
        )


def account_for(
    trunk: Trunk, contact: str, via_sent_by: str, transport: str = "UDP"
) -> TrunkAccount:
    """The registration account of ``trunk`` for a router bound at ``via_sent_by``."""
    return TrunkAccount(
        registrar=trunk.registrar,
        aor=trunk.aor,
        username=trunk.username,
        password=trunk.password,
        contact=contact,
        via_sent_by=via_sent_by,
        transport=transport,
        expires=trunk.expires,
        outbound_proxy=trunk.outbound_proxy,
    )


def extension_for_did(trunk: Trunk, called: str) -> str | None:
    """The extension an incoming call to ``called`` rings; None -> 404.

    Exact DID first; otherwise the longest DID that ends the called number, because
    providers differ in whether they send +39..., 0039... or the national form.
    """
    if called in trunk.dids:
        return trunk.dids[called]
    digits = called.lstrip("+")
    best: tuple[int, str] | None = None
    for did, extension in trunk.dids.items():
        tail = did.lstrip("+")
        shorter = min(len(tail), len(digits))
        overlaps = digits.endswith(tail) or tail.endswith(digits)
        if shorter >= 6 and overlaps and (best is None or len(tail) > best[0]):
            best = (len(tail), extension)
    if best is not None:
        return best[1]
    return trunk.default_extension

"""SIP trunk settings from config, and the DID -> extension mapping of incoming calls.

A trunk document (config-api's shape)::

    {"name": "telco", "registrar": "sip:provider.example", "username": "0612345",
     "password": "...", "aor": "sip:0612345@provider.example",
     "outbound_proxy": "sip:proxy.provider.example",   # optional
     "register": true, "expires": 3600, "codecs": ["PCMA", "G722"],
     "dids": {"+390612345": "100", "+39061234599": "200"}, "default_extension": "100"}

Incoming calls from a trunk have origin external (OVF-01): the B2BUA maps the called
number with :func:`extension_for_did` and applies the extension's external-origin rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from centralino.sip import SipError
from centralino.sip.uri import parse_uri
from centralino.v1 import config_pb2

from .trunk_registration import TrunkAccount

_NUMBER = re.compile(r"^\+?[0-9]{1,20}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODEC = re.compile(r"^[A-Za-z0-9.-]{1,32}$")


class TrunkConfigError(ValueError):
    """A trunk document is malformed; the message names the field."""


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

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> Trunk:
        name = _string(doc, "name", "trunk")
        where = f"trunks.{name}"
        if not _NAME.match(name):
            raise TrunkConfigError(f"{where}.name: letters, digits, - and _ only")
        registrar = _uri(doc, "registrar", where)
        aor = _uri(doc, "aor", where)
        proxy = _uri(doc, "outbound_proxy", where) if doc.get("outbound_proxy") else None
        expires = doc.get("expires", 3600)
        if not isinstance(expires, int) or isinstance(expires, bool) or expires < 60:
            raise TrunkConfigError(f"{where}.expires: an integer of at least 60 seconds")
        register = doc.get("register", True)
        if not isinstance(register, bool):
            raise TrunkConfigError(f"{where}.register: true or false")
        codecs = doc.get("codecs", [])
        if not isinstance(codecs, list) or not all(
            isinstance(c, str) and _CODEC.match(c) for c in codecs
        ):
            raise TrunkConfigError(f"{where}.codecs: a list of codec names")
        dids = doc.get("dids", {})
        if not isinstance(dids, dict) or not all(
            isinstance(k, str) and _NUMBER.match(k) and isinstance(v, str) and v
            for k, v in dids.items()
        ):
            raise TrunkConfigError(f"{where}.dids: an object of number -> extension")
        default = doc.get("default_extension")
        if default is not None and (not isinstance(default, str) or not default):
            raise TrunkConfigError(f"{where}.default_extension: an extension number")
        return cls(
            name=name,
            registrar=registrar,
            aor=aor,
            username=_string(doc, "username", where),
            password=_string(doc, "password", where),
            outbound_proxy=proxy,
            register=register,
            expires=expires,
            codecs=tuple(codecs),
            dids=dict(dids),
            default_extension=default,
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


def _string(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise TrunkConfigError(f"{where}.{key}: a non-empty string is required")
    return value


def _uri(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = _string(doc, key, where)
    try:
        parse_uri(value)
    except SipError as exc:
        raise TrunkConfigError(f"{where}.{key}: {exc}") from exc
    return value


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

"""Trunks as config-api serves them, and the DID -> extension mapping of incoming
(external) calls (OVF-01)."""

from __future__ import annotations

import pytest

from centralino.v1 import config_pb2
from centralino_router.features.trunks import Trunk, account_for, extension_for_did

PB = config_pb2.Trunk(
    id="t-1",
    name="telco",
    host="provider.test",
    port=5062,
    username="0612345",
    password="s3cret",
    register=True,
    outbound_proxy_host="proxy.provider.test",
    outbound_proxy_port=5070,
    codecs=["PCMA", "G722"],
    dids=[
        config_pb2.Did(number="+390612345", extension="100"),
        config_pb2.Did(number="+39061234599", extension="200"),
    ],
    default_extension="900",
)


def test_trunk_from_config_api() -> None:
    trunk = Trunk.from_proto(PB)
    assert (trunk.registrar, trunk.aor) == ("sip:provider.test:5062", "sip:0612345@provider.test")
    assert trunk.outbound_proxy == "sip:proxy.provider.test:5070"
    assert trunk.next_hop_uri == trunk.outbound_proxy
    assert trunk.codecs == ("PCMA", "G722") and trunk.id == "t-1"
    assert trunk.register and trunk.expires == 3600  # config-api's default when unset
    account = account_for(trunk, "sip:0612345@192.0.2.1:5060", "192.0.2.1:5060")
    assert (account.registrar, account.outbound_proxy) == (trunk.registrar, trunk.outbound_proxy)


def test_a_trunk_without_username_never_registers() -> None:
    trunk = Trunk.from_proto(config_pb2.Trunk(name="ip", host="192.0.2.9", register=True))
    assert not trunk.register
    assert trunk.next_hop_uri == "sip:192.0.2.9:5060"


@pytest.mark.parametrize(
    ("called", "extension"),
    [
        ("+390612345", "100"),
        ("00390612345", "100"),
        ("0612345", "100"),
        ("+39061234599", "200"),
        ("061234599", "200"),
        ("+441234567", "900"),
        ("12", "900"),
    ],
)
def test_did_mapping(called: str, extension: str) -> None:
    assert extension_for_did(Trunk.from_proto(PB), called) == extension


def test_unknown_did_without_default_is_none() -> None:
    pb = config_pb2.Trunk()
    pb.CopyFrom(PB)
    pb.default_extension = ""
    assert extension_for_did(Trunk.from_proto(pb), "+441234567") is None

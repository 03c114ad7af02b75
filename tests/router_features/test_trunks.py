"""Trunk documents and the DID -> extension mapping of incoming (external) calls."""

from __future__ import annotations

from typing import Any

import pytest

from centralino_router.features.trunks import (
    Trunk,
    TrunkConfigError,
    account_for,
    extension_for_did,
)

DOC: dict[str, Any] = {
    "name": "telco",
    "registrar": "sip:provider.test",
    "aor": "sip:0612345@provider.test",
    "username": "0612345",
    "password": "s3cret",
    "outbound_proxy": "sip:proxy.provider.test",
    "codecs": ["PCMA", "G722"],
    "dids": {"+390612345": "100", "+39061234599": "200"},
    "default_extension": "900",
}


def test_trunk_from_config() -> None:
    trunk = Trunk.from_config(DOC)
    assert trunk.codecs == ("PCMA", "G722")
    assert trunk.outbound_proxy == "sip:proxy.provider.test"
    assert trunk.register and trunk.expires == 3600
    account = account_for(trunk, "sip:0612345@192.0.2.1:5060", "192.0.2.1:5060")
    assert (account.registrar, account.outbound_proxy) == (trunk.registrar, trunk.outbound_proxy)


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
    assert extension_for_did(Trunk.from_config(DOC), called) == extension


def test_unknown_did_without_default_is_none() -> None:
    trunk = Trunk.from_config({**DOC, "default_extension": None})
    assert extension_for_did(trunk, "+441234567") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "trunk.name"),
        ({"name": "a b"}, "trunks.a b.name"),
        ({"registrar": "http://x"}, "trunks.telco.registrar"),
        ({"aor": 5}, "trunks.telco.aor"),
        ({"password": None}, "trunks.telco.password"),
        ({"expires": 10}, "trunks.telco.expires"),
        ({"expires": True}, "trunks.telco.expires"),
        ({"register": "yes"}, "trunks.telco.register"),
        ({"codecs": "PCMA"}, "trunks.telco.codecs"),
        ({"dids": {"abc": "100"}}, "trunks.telco.dids"),
        ({"dids": {"+391": ""}}, "trunks.telco.dids"),
        ({"default_extension": 7}, "trunks.telco.default_extension"),
    ],
)
def test_bad_documents_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TrunkConfigError) as caught:
        Trunk.from_config({**DOC, **change})
    assert str(caught.value).startswith(field)

"""The sans-IO SNMP agent: requests built with pysnmp's protocol API, no sockets (FEAT-09)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from centralino_directory.snmp import MetricsState, SystemInfo, make_agent
from centralino_directory.snmp.agent import MAX_BULK_VARBINDS, SnmpAgent
from centralino_directory.snmp.mib import OBJECTS

COMMUNITY = "secret"
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def agent() -> SnmpAgent:
    m = MetricsState(services=["registrar", "router"])
    m.on_call("demo", "c1", "created", now=0)
    return make_agent(m, SystemInfo(descr="test"), COMMUNITY, started=0)


def request(
    version: int,
    pdu_type: str,
    oids: list[tuple[int, ...]],
    community: str = COMMUNITY,
    **bulk: int,
) -> bytes:
    proto = api.PROTOCOL_MODULES[version]
    pdu = getattr(proto, pdu_type)()
    if pdu_type == "GetBulkRequestPDU":
        proto.apiBulkPDU.set_defaults(pdu)
        proto.apiBulkPDU.set_non_repeaters(pdu, bulk.get("non_repeaters", 0))
        proto.apiBulkPDU.set_max_repetitions(pdu, bulk.get("max_repetitions", 10))
    else:
        proto.apiPDU.set_defaults(pdu)
    value = proto.Integer(1) if pdu_type == "SetRequestPDU" else proto.Null("")
    proto.apiPDU.set_varbinds(pdu, [(o, value) for o in oids])
    msg = proto.Message()
    proto.apiMessage.set_defaults(msg)
    proto.apiMessage.set_community(msg, community)
    proto.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def reply(version: int, data: bytes | None) -> tuple[int, int, list[tuple[tuple[int, ...], Any]]]:
    assert data is not None
    proto = api.PROTOCOL_MODULES[version]
    msg, _ = decoder.decode(data, asn1Spec=proto.Message())
    pdu = proto.apiMessage.get_pdu(msg)
    binds = [(tuple(o), v) for o, v in proto.apiPDU.get_varbinds(pdu)]
    return int(proto.apiPDU.get_error_status(pdu)), int(proto.apiPDU.get_error_index(pdu)), binds


def test_get_next_and_bulk_walk_in_order() -> None:
    a = agent()
    v2 = api.SNMP_VERSION_2C
    status, _, binds = reply(v2, a.handle_datagram(request(v2, "GetRequestPDU", [SYS_DESCR]), 5))
    assert status == 0 and str(binds[0][1]) == "test"
    status, _, binds = reply(v2, a.handle_datagram(request(v2, "GetNextRequestPDU", [(1, 3)]), 5))
    assert binds[0][0] == SYS_DESCR
    calls = (*OBJECTS, 2, 1, 0)
    _, _, binds = reply(v2, a.handle_datagram(request(v2, "GetRequestPDU", [calls]), 5))
    assert int(binds[0][1]) == 1
    _, _, binds = reply(
        v2, a.handle_datagram(request(v2, "GetBulkRequestPDU", [(1, 3)], max_repetitions=1000), 5)
    )
    oids = [o for o, _ in binds]
    assert oids == sorted(oids) and len(oids) <= MAX_BULK_VARBINDS
    assert binds[-1][1].__class__.__name__ == "EndOfMibView"


def test_silently_dropped() -> None:
    a = agent()
    v2 = api.SNMP_VERSION_2C
    assert a.handle_datagram(request(v2, "GetRequestPDU", [SYS_DESCR], "public"), 1) is None
    assert a.counters.bad_community == 1
    assert a.handle_datagram(b"\x30\x03\x02\x01\x07", 1) is None  # unknown version 7
    assert a.handle_datagram(request(v2, "ResponsePDU", [SYS_DESCR]), 1) is None
    assert a.counters.unsupported_pdu == 1
    assert a.handle_datagram(b"not snmp", 1) is None
    assert a.counters.malformed >= 1


def test_set_refused_in_both_versions() -> None:
    a = agent()
    for version, expected in ((api.SNMP_VERSION_1, 2), (api.SNMP_VERSION_2C, 17)):
        status, index, _ = reply(
            version, a.handle_datagram(request(version, "SetRequestPDU", [SYS_DESCR]), 1)
        )
        assert (status, index) == (expected, 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_arbitrary_datagrams(data: bytes) -> None:
    out = agent().handle_datagram(data, 1)
    assert out is None or isinstance(out, bytes)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=80), st.integers(min_value=0, max_value=255))
def test_fuzz_mutated_bulk_request(position: int, value: int) -> None:
    data = bytearray(request(api.SNMP_VERSION_2C, "GetBulkRequestPDU", [(1, 3, 6)]))
    data[position % len(data)] = value
    out = agent().handle_datagram(bytes(data), 1)
    assert out is None or isinstance(out, bytes)

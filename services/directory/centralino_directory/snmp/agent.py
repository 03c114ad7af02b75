"""A read-only SNMP v1/v2c command responder, sans-IO: a datagram in, maybe one out.

Built on pysnmp's protocol layer (message and PDU types, BER codec); the MIB is a plain
table rebuilt from :class:`MetricsState` for each request, so values are always current.

Rules (RFC 3416, RFC 2576 §4.3 for the v1 error mapping):

* a wrong community, an unknown version or an undecodable datagram gets no answer at all
  (as Net-SNMP does), and is counted;
* GET answers noSuchObject/noSuchInstance (v2c) or noSuchName (v1) for unknown OIDs;
* GETNEXT/GETBULK walk the table in lexicographic order; past the end v2c answers
  endOfMibView and v1 noSuchName;
* SET is refused: notWritable (v2c) / noSuchName (v1), and nothing changes;
* GETBULK is capped at :data:`MAX_BULK_VARBINDS` so the answer fits a UDP datagram.
"""

from __future__ import annotations

import bisect
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api
from pysnmp.proto.error import ProtocolError

from centralino_directory.snmp.metrics import MetricsState
from centralino_directory.snmp.mib import Oid, SystemInfo, build_table

MAX_BULK_VARBINDS = 200
# pyasn1 answers some malformed encodings with TypeError (a SEQUENCE where pysnmp's
# version probe expects a primitive), OverflowError or IndexError (absurd inner lengths)
# instead of PyAsn1Error; found by fuzzing, all of them mean garbage.
_UNDECODABLE = (PyAsn1Error, ProtocolError, ValueError, TypeError, OverflowError, IndexError)
_NO_SUCH_NAME = 2
_GEN_ERR = 5
_NOT_WRITABLE = 17


@dataclass
class AgentCounters:
    """Requests dropped without an answer, by reason (snmpInBadCommunityNames & co)."""

    bad_community: int = 0
    bad_version: int = 0
    malformed: int = 0
    unsupported_pdu: int = 0


@dataclass
class SnmpAgent:
    metrics: MetricsState
    system: SystemInfo
    community: str
    started: float
    counters: AgentCounters = field(default_factory=AgentCounters)
    #: feeds values the bus cannot (e.g. the phonebook size) just before each answer
    refresh: Callable[[], None] | None = None

    def handle_datagram(self, data: bytes, now: float) -> bytes | None:
        try:
            version = int(api.decodeMessageVersion(data))
        except _UNDECODABLE:
            self.counters.malformed += 1
            return None
        proto = api.PROTOCOL_MODULES.get(version)
        if proto is None:
            self.counters.bad_version += 1
            return None
        try:
            request, rest = decoder.decode(data, asn1Spec=proto.Message())
            community = bytes(proto.apiMessage.get_community(request))
            pdu = proto.apiMessage.get_pdu(request)
        except _UNDECODABLE:
            self.counters.malformed += 1
            return None
        if rest:
            self.counters.malformed += 1
            return None
        if not hmac.compare_digest(community, self.community.encode()):
            self.counters.bad_community += 1
            return None
        try:
            response = self._respond(proto, version, request, pdu, now)
        except (PyAsn1Error, ProtocolError):  # a value in the request that does not fit
            self.counters.malformed += 1
            return None
        return None if response is None else bytes(encoder.encode(response))

    def _table(self, now: float) -> tuple[dict[Oid, Any], list[Oid]]:
        if self.refresh is not None:
            self.refresh()
        table = build_table(self.system, self.metrics.snapshot(now), now - self.started)
        return table, sorted(table)

    def _respond(self, proto: Any, version: int, request: Any, pdu: Any, now: float) -> Any:
        v1 = version == api.SNMP_VERSION_1
        kind = pdu.getTagSet()
        if kind == proto.GetRequestPDU.tagSet:
            op = "get"
        elif kind == proto.GetNextRequestPDU.tagSet:
            op = "next"
        elif kind == proto.SetRequestPDU.tagSet:
            op = "set"
        elif not v1 and kind == proto.GetBulkRequestPDU.tagSet:
            op = "bulk"
        else:  # responses, traps, informs, reports: not ours to answer
            self.counters.unsupported_pdu += 1
            return None

        response = proto.apiMessage.get_response(request)
        rsp_pdu = proto.apiMessage.get_pdu(response)
        requested: list[tuple[Oid, Any]] = [
            (tuple(oid), value) for oid, value in proto.apiPDU.get_varbinds(pdu)
        ]

        def fail(status: int, index: int) -> Any:
            proto.apiPDU.set_error_status(rsp_pdu, status)
            proto.apiPDU.set_error_index(rsp_pdu, index)
            proto.apiPDU.set_varbinds(rsp_pdu, [(o, v) for o, v in requested])
            return response

        if op == "set":
            if not requested:
                return fail(_GEN_ERR, 0)
            return fail(_NO_SUCH_NAME if v1 else _NOT_WRITABLE, 1)

        table, order = self._table(now)
        out: list[tuple[Oid, Any]] = []

        def successor(oid: Oid) -> tuple[Oid, Any] | None:
            i = bisect.bisect_right(order, oid)
            return (order[i], table[order[i]]) if i < len(order) else None

        if op == "get":
            for i, (oid, _) in enumerate(requested, 1):
                if oid in table:
                    out.append((oid, table[oid]))
                elif v1:
                    return fail(_NO_SUCH_NAME, i)
                elif any(o[: len(oid) - 1] == oid[:-1] for o in order):
                    out.append((oid, proto.NoSuchInstance()))
                else:
                    out.append((oid, proto.NoSuchObject()))
        elif op == "next":
            for i, (oid, _) in enumerate(requested, 1):
                found = successor(oid)
                if found is not None:
                    out.append(found)
                elif v1:
                    return fail(_NO_SUCH_NAME, i)
                else:
                    out.append((oid, proto.EndOfMibView()))
        else:
            non_repeaters = max(0, int(proto.apiBulkPDU.get_non_repeaters(pdu)))
            repetitions = max(0, int(proto.apiBulkPDU.get_max_repetitions(pdu)))
            singles, repeaters = requested[:non_repeaters], requested[non_repeaters:]
            for oid, _ in singles:
                out.append(successor(oid) or (oid, proto.EndOfMibView()))
            if repeaters:
                budget = max(0, MAX_BULK_VARBINDS - len(out))
                repetitions = min(repetitions, budget // len(repeaters))
            cursors = [oid for oid, _ in repeaters]
            for _ in range(repetitions):
                row_done = True
                for j, oid in enumerate(cursors):
                    found = successor(oid)
                    if found is None:
                        out.append((oid, proto.EndOfMibView()))
                    else:
                        row_done = False
                        cursors[j] = found[0]
                        out.append(found)
                if row_done:  # every column is past the end: stop early (RFC 3416 §4.2.3)
                    break
        proto.apiPDU.set_varbinds(rsp_pdu, out)
        return response


def make_agent(
    metrics: MetricsState,
    system: SystemInfo,
    community: str,
    started: float | None = None,
    refresh: Callable[[], None] | None = None,
) -> SnmpAgent:
    if not community:
        raise ValueError("an SNMP community must not be empty")
    return SnmpAgent(
        metrics=metrics,
        system=system,
        community=community,
        started=time.time() if started is None else started,
        refresh=refresh,
    )

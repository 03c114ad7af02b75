"""The object identifiers the agent serves: MIB-2 ``system`` (RFC 3418) and
CENTRALINO-MIB (``mibs/CENTRALINO-MIB.txt``, which must stay in step with this file).

The CENTRALINO-MIB root sits in Net-SNMP's ``netSnmpPlaypen`` arc, which exists for
unregistered local use, until the project has its own IANA enterprise number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pysnmp.proto.api import v2c

from centralino_directory.snmp.metrics import MetricsSnapshot

Oid = tuple[int, ...]

SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
CENTRALINO: Oid = (1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 7100)
OBJECTS: Oid = (*CENTRALINO, 1)
#: sysObjectID: what kind of agent this is
AGENT_OID: Oid = (*CENTRALINO, 3, 1)

_MAX_COUNTER32 = 2**32


@dataclass(frozen=True, slots=True)
class SystemInfo:
    descr: str
    contact: str = ""
    name: str = ""
    location: str = ""


def build_table(
    system: SystemInfo, metrics: MetricsSnapshot, uptime_seconds: float
) -> dict[Oid, Any]:
    """Every instance the agent answers for, with its typed value."""
    table: dict[Oid, Any] = {
        (*SYSTEM, 1, 0): v2c.OctetString(system.descr),
        (*SYSTEM, 2, 0): v2c.ObjectIdentifier(AGENT_OID),
        (*SYSTEM, 3, 0): v2c.TimeTicks(int(uptime_seconds * 100) % _MAX_COUNTER32),
        (*SYSTEM, 4, 0): v2c.OctetString(system.contact),
        (*SYSTEM, 5, 0): v2c.OctetString(system.name),
        (*SYSTEM, 6, 0): v2c.OctetString(system.location),
        # transport (4) + application (7) layers: 2**3 + 2**6
        (*SYSTEM, 7, 0): v2c.Integer(72),
        (*OBJECTS, 1, 1, 0): v2c.Gauge32(metrics.registered_accounts),
        (*OBJECTS, 2, 1, 0): v2c.Gauge32(metrics.active_calls),
        (*OBJECTS, 2, 2, 0): v2c.Counter32(metrics.calls_total % _MAX_COUNTER32),
        (*OBJECTS, 3, 1, 0): v2c.Gauge32(metrics.media_sessions),
        (*OBJECTS, 3, 2, 0): v2c.Gauge32(metrics.transcoding_channels),
        (*OBJECTS, 4, 1, 0): v2c.Gauge32(metrics.licence_channels_total),
        (*OBJECTS, 4, 2, 0): v2c.Gauge32(metrics.licence_channels_in_use),
        (*OBJECTS, 6, 1, 0): v2c.Gauge32(metrics.phonebook_entries),
    }
    entry = (*OBJECTS, 5, 1)  # cnServiceEntry, INDEX { cnServiceIndex }
    for index, health in enumerate(metrics.services, 1):
        table[(*entry, 2, index)] = v2c.OctetString(health.name)
        table[(*entry, 3, index)] = v2c.Integer(int(health.status))
        table[(*entry, 4, index)] = v2c.Gauge32(health.instances)
        table[(*entry, 5, index)] = v2c.Gauge32(health.heartbeat_age)
    return table

"""The read-only SNMP v1/v2c agent (FEAT-09): metrics state, MIB table, agent, UDP adapter."""

from centralino_directory.snmp.agent import SnmpAgent, make_agent
from centralino_directory.snmp.metrics import MetricsSnapshot, MetricsState, ServiceStatus
from centralino_directory.snmp.mib import SystemInfo
from centralino_directory.snmp.server import SnmpServer

__all__ = [
    "MetricsSnapshot",
    "MetricsState",
    "ServiceStatus",
    "SnmpAgent",
    "SnmpServer",
    "SystemInfo",
    "make_agent",
]

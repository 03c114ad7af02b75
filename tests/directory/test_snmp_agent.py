"""FEAT-09: the read-only SNMP v1/v2c agent, driven by Net-SNMP's snmpget, snmpwalk and
snmpbulkwalk with CENTRALINO-MIB loaded, over loopback UDP."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from centralino.settings import DEFAULT_GRPC_PORTS
from centralino_directory.snmp import (
    MetricsState,
    ServiceStatus,
    SnmpServer,
    SystemInfo,
    make_agent,
)

MIB_DIR = Path(__file__).resolve().parents[2] / "services" / "directory" / "mibs"
COMMUNITY = "c3ntral1no"

pytestmark = pytest.mark.skipif(
    shutil.which("snmpget") is None, reason="Net-SNMP tools (snmp package) not installed"
)


@pytest.fixture
def metrics() -> MetricsState:
    m = MetricsState(services=list(DEFAULT_GRPC_PORTS))
    now = time.time()
    m.on_location("demo", "201", "registered", int((now + 600) * 1000), now)
    m.on_location("demo", "202", "registered", int((now + 600) * 1000), now)
    m.on_location("acme", "301", "registered", int((now + 600) * 1000), now)
    m.on_call("demo", "call-1", "created", now)
    m.on_call("demo", "call-2", "created", now)
    m.on_call("demo", "call-2", "answered", now)
    m.on_call("demo", "call-3", "created", now)
    m.on_call("demo", "call-3", "ended", now)
    m.on_media_stats("sess-1", now)
    m.transcoding_channels = 1
    m.set_licence_pool(total=8, in_use=1)
    m.phonebook_entries = 42
    m.on_heartbeat("registrar", "registrar-a", "SERVING", now)
    m.on_heartbeat("registrar", "registrar-b", "SERVING", now)
    m.on_heartbeat("media", "media-a", "STOPPING", now)
    m.on_heartbeat("router", "router-a", "SERVING", now - 60)
    return m


@pytest.fixture
async def snmp_port(metrics: MetricsState) -> AsyncIterator[int]:
    agent = make_agent(
        metrics,
        SystemInfo(descr="Centralino directory", contact="noc@example.com", name="pbx-1"),
        COMMUNITY,
    )
    server = SnmpServer(agent)
    port = await server.start("127.0.0.1", 0)
    try:
        yield port
    finally:
        await server.stop()


async def net_snmp(
    tool: str, port: int, *oids: str, options: tuple[str, ...] = (), community: str = COMMUNITY
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        tool,
        "-M",
        f"+{MIB_DIR}",
        "-m",
        "+CENTRALINO-MIB",
        "-c",
        community,
        "-t",
        "0.5",
        "-r",
        "0",
        *options,
        f"udp:127.0.0.1:{port}",
        *oids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def values(output: str) -> dict[str, str]:
    """``NAME = TYPE: VALUE`` lines as {NAME: VALUE}."""
    found = {}
    for line in output.splitlines():
        name, sep, rest = line.partition(" = ")
        if sep and not rest.startswith("No more variables"):
            found[name.strip()] = rest.split(": ", 1)[-1].strip()
    return found


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_feat09_snmpget_centralino_scalars(snmp_port: int, version: str) -> None:
    rc, out, err = await net_snmp(
        "snmpget",
        snmp_port,
        "CENTRALINO-MIB::cnRegisteredAccounts.0",
        "CENTRALINO-MIB::cnActiveCalls.0",
        "CENTRALINO-MIB::cnCallsTotal.0",
        "CENTRALINO-MIB::cnMediaSessions.0",
        "CENTRALINO-MIB::cnTranscodingChannels.0",
        "CENTRALINO-MIB::cnLicenceChannelsTotal.0",
        "CENTRALINO-MIB::cnLicenceChannelsInUse.0",
        "CENTRALINO-MIB::cnPhonebookEntries.0",
        options=("-v", version),
    )
    assert rc == 0, err
    got = values(out)
    assert got == {
        "CENTRALINO-MIB::cnRegisteredAccounts.0": "3",
        "CENTRALINO-MIB::cnActiveCalls.0": "2",
        "CENTRALINO-MIB::cnCallsTotal.0": "3",
        "CENTRALINO-MIB::cnMediaSessions.0": "1",
        "CENTRALINO-MIB::cnTranscodingChannels.0": "1",
        "CENTRALINO-MIB::cnLicenceChannelsTotal.0": "8",
        "CENTRALINO-MIB::cnLicenceChannelsInUse.0": "1",
        "CENTRALINO-MIB::cnPhonebookEntries.0": "42",
    }, out


async def test_feat09_system_group(snmp_port: int) -> None:
    # Numeric OIDs: the IETF MIB files are not installed everywhere (not on Debian).
    rc, out, err = await net_snmp(
        "snmpget",
        snmp_port,
        ".1.3.6.1.2.1.1.1.0",
        ".1.3.6.1.2.1.1.2.0",
        ".1.3.6.1.2.1.1.3.0",
        ".1.3.6.1.2.1.1.5.0",
        options=("-v", "2c", "-On"),
    )
    assert rc == 0, err
    got = values(out)
    assert got[".1.3.6.1.2.1.1.1.0"] == '"Centralino directory"'
    assert got[".1.3.6.1.2.1.1.2.0"] == ".1.3.6.1.4.1.8072.9999.9999.7100.3.1"
    assert got[".1.3.6.1.2.1.1.5.0"] == '"pbx-1"'
    assert "Timeticks" in out


async def test_feat09_snmpwalk_service_table(snmp_port: int) -> None:
    rc, out, err = await net_snmp(
        "snmpwalk", snmp_port, "CENTRALINO-MIB::cnServiceTable", options=("-v", "2c")
    )
    assert rc == 0, err
    got = values(out)
    names = {k.rsplit(".", 1)[1]: v for k, v in got.items() if "cnServiceName" in k}
    assert names == {str(i): f'"{n}"' for i, n in enumerate(DEFAULT_GRPC_PORTS, 1)}
    status = {
        names[k.rsplit(".", 1)[1]].strip('"'): v for k, v in got.items() if "cnServiceStatus" in k
    }
    assert status["registrar"] == "serving(3)"
    assert status["media"] == "stopping(4)"
    assert status["router"] == "down(5)"
    assert status["config-api"] == "unknown(1)"
    instances = {k.rsplit(".", 1)[1]: v for k, v in got.items() if "cnServiceInstances" in k}
    assert instances["2"] == "2"  # registrar has two live replicas


async def test_feat09_snmpbulkwalk_whole_tree_matches_walk(snmp_port: int) -> None:
    rc1, walk, err1 = await net_snmp("snmpwalk", snmp_port, ".1.3.6.1", options=("-v", "2c", "-On"))
    rc2, bulk, err2 = await net_snmp(
        "snmpbulkwalk", snmp_port, ".1.3.6.1", options=("-v", "2c", "-On", "-Cr7")
    )
    rc3, walk1, err3 = await net_snmp("snmpwalk", snmp_port, ".1.3.6.1", options=("-v", "1", "-On"))
    assert (rc1, rc2, rc3) == (0, 0, 0), err1 + err2 + err3
    uptime = ".1.3.6.1.2.1.1.3.0"

    def objects(output: str) -> dict[str, str]:
        # Uptime moves between walks; the end-of-walk notice differs between versions.
        return {k: v for k, v in values(output).items() if k.startswith(".") and k != uptime}

    assert len(objects(walk)) == 6 + 8 + 4 * len(DEFAULT_GRPC_PORTS)
    assert list(objects(walk)) == sorted(
        objects(walk), key=lambda o: [int(x) for x in o[1:].split(".")]
    )
    assert objects(bulk) == objects(walk)
    assert objects(walk1) == objects(walk)


async def test_feat09_wrong_community_gets_no_answer(snmp_port: int) -> None:
    rc, out, err = await net_snmp(
        "snmpget", snmp_port, ".1.3.6.1.2.1.1.1.0", options=("-v", "2c"), community="public"
    )
    assert rc != 0
    assert "Timeout" in err and not out


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_feat09_set_is_refused(snmp_port: int, metrics: MetricsState, version: str) -> None:
    rc, _, err = await net_snmp(
        "snmpset",
        snmp_port,
        "CENTRALINO-MIB::cnActiveCalls.0",
        "u",
        "99",
        options=("-v", version),
    )
    assert rc != 0
    expected = "noSuchName" if version == "1" else "notWritable"
    assert expected in err, err
    assert metrics.snapshot(time.time()).active_calls == 2


async def test_get_unknown_oids(snmp_port: int) -> None:
    rc, out, _ = await net_snmp(
        "snmpget",
        snmp_port,
        "CENTRALINO-MIB::cnActiveCalls.1",
        ".1.3.6.1.4.1.99999.1.0",
        options=("-v", "2c"),
    )
    assert "No Such Instance" in out and "No Such Object" in out
    rc, out, err = await net_snmp(
        "snmpget", snmp_port, ".1.3.6.1.4.1.99999.1.0", options=("-v", "1")
    )
    assert rc != 0 and "noSuchName" in (out + err)


def test_metrics_state_rules() -> None:
    m = MetricsState(services=["registrar"], heartbeat_timeout=15, media_window=30)
    m.on_location("demo", "201", "registered", 100_000, now=0)
    m.on_location("demo", "202", "registered", 200_000, now=0)
    m.on_location("demo", "202", "unregistered", 0, now=1)
    assert m.snapshot(50).registered_accounts == 1
    assert m.snapshot(150).registered_accounts == 0  # expired by time
    m.on_call("demo", "c1", "ringing", now=0)  # joined late: still counted as active
    m.on_call("demo", "c1", "ended", now=1)
    m.on_call("demo", "c2", "created", now=1)
    m.on_call("demo", "c2", "created", now=2)  # duplicate delivery counts once
    snap = m.snapshot(3)
    assert (snap.active_calls, snap.calls_total) == (1, 1)
    assert m.snapshot(13 * 3600).active_calls == 0  # lost "ended": forgotten
    m.on_media_stats("s1", now=0)
    m.on_media_stats("s2", now=0)
    m.on_media_inactive("s2")
    assert m.snapshot(10).media_sessions == 1
    assert m.snapshot(40).media_sessions == 0
    m.on_heartbeat("registrar", "a", "SERVING", now=100)
    m.on_heartbeat("registrar", "b", "STOPPING", now=100)
    m.on_heartbeat("registrar", "c", "BOGUS", now=100)
    [health] = m.snapshot(110).services
    assert (health.status, health.instances, health.heartbeat_age) == (ServiceStatus.SERVING, 2, 10)
    [health] = m.snapshot(120).services
    assert health.status is ServiceStatus.DOWN
    with pytest.raises(ValueError):
        m.set_licence_pool(-1, 0)

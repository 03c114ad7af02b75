"""Port allocation from the configured range, and session leases/inactivity (sans-IO)."""

from __future__ import annotations

import random

import pytest

from centralino_media.ports import PortAllocator, PortsExhaustedError
from centralino_media.registry import SessionRecord, SessionRegistry, UnknownSessionError
from centralino_media.relay import LegPorts, LegSettings, MediaSession
from centralino_media.simphone import SimPhone, tone


def test_even_rtp_ports_round_robin_and_exhaustion() -> None:
    ports = PortAllocator(30501, 30508)  # even pairs: 30502, 30504, 30506
    taken = [ports.acquire() for _ in range(3)]
    assert taken == [30502, 30504, 30506] and ports.in_use == 3
    with pytest.raises(PortsExhaustedError):
        ports.acquire()
    ports.release(30502)
    ports.release(30502)  # twice is harmless
    assert ports.acquire() == 30502
    with pytest.raises(ValueError):
        PortAllocator(30000, 30000)


def _record(now: float, lease: float) -> SessionRecord:
    session = MediaSession(
        "s-" + str(now),
        "127.0.0.1",
        [LegSettings("a", ("PCMA",)), LegSettings("b", ("PCMA",))],
        {"a": LegPorts((30600, 30601)), "b": LegPorts((30602, 30603))},
        rng=random.Random(1),
    )
    return SessionRecord(session, "call", "t", "router-1", now, now + lease)


def test_leases_expire_unless_renewed() -> None:
    registry = SessionRegistry(inactivity_seconds=5, stats_interval=10)
    r = _record(100.0, 30)
    registry.add(r)
    assert registry.expired(129.0) == []
    registry.renew(r.session_id, 30, 125.0)
    assert registry.expired(150.0) == []
    assert registry.expired(155.0) == [r]
    registry.remove(r.session_id)
    with pytest.raises(UnknownSessionError, match="unknown media session"):
        registry.get(r.session_id)


def test_inactivity_reported_once_and_rearmed_by_media() -> None:
    registry = SessionRegistry(inactivity_seconds=5, stats_interval=10)
    r = _record(100.0, 3600)
    registry.add(r)
    # No SDP yet: nobody is expected to send, so nothing is idle.
    assert registry.newly_inactive(200.0) == []
    pa, pb = SimPhone("192.0.2.1", 4000, ("PCMA",)), SimPhone("192.0.2.2", 5000, ("PCMA",))
    offer = pa.offer()
    r.session.update("a", offer, is_offer=True)
    pa.learn(offer, r.session.local_sdp("a").serialize(), offerer=True)
    r.session.update("b", pb.answer(r.session.local_sdp("b").serialize()), is_offer=False)
    assert [idle for _, idle in registry.newly_inactive(106.0)] == [6.0]
    assert registry.newly_inactive(107.0) == []  # reported once
    for packet in pa.packets(tone(1000, 0.02, 8000)):
        r.session.receive(30600, packet, pa.address, 107.5)
    for packet in pb.packets(tone(1000, 0.02, 8000)):
        r.session.receive(30602, packet, pb.address, 107.5)
    assert registry.newly_inactive(108.0) == []  # media flowed: re-armed
    assert [idle for _, idle in registry.newly_inactive(113.0)] == [5.5]
    assert registry.stats_due(109.0) == [] and registry.stats_due(110.0) == [r]

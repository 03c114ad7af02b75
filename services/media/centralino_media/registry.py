"""Sessions by id with their owner, lease and timers (sans-IO: ``now`` is passed in).

Every session belongs to a router replica and lives on a lease the router renews. If the
router dies, its leases run out and the sessions are reaped, so ports and G.729 licences
come back without anyone calling Release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from centralino_media.relay import MediaSession


class UnknownSessionError(KeyError):
    """No session with that id (never allocated, released, or reaped)."""

    def __str__(self) -> str:
        return f"unknown media session {self.args[0]!r}"


@dataclass(slots=True)
class SessionRecord:
    session: MediaSession
    call_id: str
    tenant: str
    owner: str
    started: float
    lease_expires: float
    rtp_ports: list[int] = field(default_factory=list)
    licence_leases: list[str] = field(default_factory=list)
    #: a G.729 lease was lost and could not be replaced yet
    licence_missing: bool = False
    inactivity_reported: bool = False
    next_stats: float = 0.0

    @property
    def session_id(self) -> str:
        return self.session.session_id


class SessionRegistry:
    def __init__(self, inactivity_seconds: float, stats_interval: float) -> None:
        self.inactivity_seconds = inactivity_seconds
        self.stats_interval = stats_interval
        self._records: dict[str, SessionRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._records

    def add(self, record: SessionRecord) -> None:
        record.next_stats = record.started + self.stats_interval
        self._records[record.session_id] = record

    def get(self, session_id: str) -> SessionRecord:
        try:
            return self._records[session_id]
        except KeyError:
            raise UnknownSessionError(session_id) from None

    def remove(self, session_id: str) -> SessionRecord:
        record = self.get(session_id)
        del self._records[session_id]
        return record

    def renew(self, session_id: str, lease_seconds: float, now: float) -> SessionRecord:
        record = self.get(session_id)
        record.lease_expires = now + lease_seconds
        return record

    def expired(self, now: float) -> list[SessionRecord]:
        return [r for r in self._records.values() if r.lease_expires <= now]

    def newly_inactive(self, now: float) -> list[tuple[SessionRecord, float]]:
        """Sessions idle past the threshold, each reported once until media flows again."""
        out = []
        for r in self._records.values():
            idle = r.session.idle_seconds(now, r.started)
            if idle >= self.inactivity_seconds:
                if not r.inactivity_reported:
                    r.inactivity_reported = True
                    out.append((r, idle))
            else:
                r.inactivity_reported = False
        return out

    def stats_due(self, now: float) -> list[SessionRecord]:
        out = []
        for r in self._records.values():
            if now >= r.next_stats:
                r.next_stats = now + self.stats_interval
                out.append(r)
        return out

    def all(self) -> list[SessionRecord]:
        return list(self._records.values())

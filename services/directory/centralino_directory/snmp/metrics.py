"""What the SNMP agent reports, as a sans-IO state fed events (FEAT-09).

The bus adapter calls the ``on_*`` methods with decoded NATS events and the current
Unix time; :meth:`MetricsState.snapshot` turns the state into numbers at a given time.
Nothing here reads a clock or a socket, so every rule below is tested by feeding events:

* an account is registered from a ``registered``/``refreshed`` LocationEvent until an
  ``unregistered``/``expired`` one, or until the expiry the registrar gave passes;
* a call is active from ``created`` (or any later event) until ``ended``; a call whose
  ``ended`` was lost is forgotten after ``max_call_age`` so the gauge cannot leak upwards;
* a media session is active while MediaStats for it keep coming (within ``media_window``)
  and stops counting at its MediaInactivity event;
* a service is ``serving`` while at least one instance's last heartbeat said SERVING and
  is younger than ``heartbeat_timeout``; ``down`` once every heartbeat is too old.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum


class ServiceStatus(IntEnum):
    """Values of cnServiceStatus in CENTRALINO-MIB."""

    UNKNOWN = 1  # never heard from
    STARTING = 2
    SERVING = 3
    STOPPING = 4
    DOWN = 5


_HEARTBEAT_STATES = {
    "STARTING": ServiceStatus.STARTING,
    "SERVING": ServiceStatus.SERVING,
    "STOPPING": ServiceStatus.STOPPING,
}

_REGISTERED = {"registered", "refreshed"}
_UNREGISTERED = {"unregistered", "expired"}
_CALL_ACTIVE = {"created", "ringing", "answered", "transferred"}


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    name: str
    status: ServiceStatus
    instances: int  # instances whose last heartbeat is recent
    heartbeat_age: int  # seconds since the newest heartbeat; 0 if never seen


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    registered_accounts: int
    active_calls: int
    calls_total: int
    media_sessions: int
    transcoding_channels: int
    licence_channels_total: int
    licence_channels_in_use: int
    phonebook_entries: int
    services: tuple[ServiceHealth, ...]


@dataclass
class _Instance:
    status: ServiceStatus
    seen: float


@dataclass
class MetricsState:
    services: Sequence[str]
    heartbeat_timeout: float = 15.0
    media_window: float = 30.0
    max_call_age: float = 12 * 3600.0
    # Set directly by the feeds that have no event for them.
    transcoding_channels: int = 0
    licence_channels_total: int = 0
    licence_channels_in_use: int = 0
    phonebook_entries: int = 0
    # (tenant, username) → expiry; (tenant, call id) → first seen; session → last stats
    _registrations: dict[tuple[str, str], float] = field(
        default_factory=dict, init=False, repr=False
    )
    _calls: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False)
    _calls_total: int = field(default=0, init=False)
    _media: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _instances: dict[tuple[str, str], _Instance] = field(
        default_factory=dict, init=False, repr=False
    )

    def on_location(
        self, tenant: str, username: str, event: str, expires_unix_ms: int, now: float
    ) -> None:
        key = (tenant, username)
        if event in _REGISTERED:
            # A registration without an expiry is taken at face value until it is removed.
            self._registrations[key] = expires_unix_ms / 1000 if expires_unix_ms else float("inf")
        elif event in _UNREGISTERED:
            self._registrations.pop(key, None)

    def on_call(self, tenant: str, call_id: str, event: str, now: float) -> None:
        key = (tenant, call_id)
        if event == "ended":
            self._calls.pop(key, None)
        elif event in _CALL_ACTIVE:
            if event == "created" and key not in self._calls:
                self._calls_total += 1
            self._calls.setdefault(key, now)

    def on_media_stats(self, session_id: str, now: float) -> None:
        self._media[session_id] = now

    def on_media_inactive(self, session_id: str) -> None:
        self._media.pop(session_id, None)

    def on_heartbeat(self, service: str, instance: str, state: str, now: float) -> None:
        status = _HEARTBEAT_STATES.get(state)
        if status is None:
            return
        self._instances[(service, instance)] = _Instance(status, now)

    def set_licence_pool(self, total: int, in_use: int) -> None:
        if total < 0 or in_use < 0:
            raise ValueError(f"licence pool numbers must be >= 0, got {total}/{in_use}")
        self.licence_channels_total = total
        self.licence_channels_in_use = in_use

    def expire(self, now: float) -> None:
        """Forget what timed out; :meth:`snapshot` calls it."""
        self._registrations = {k: v for k, v in self._registrations.items() if v > now}
        self._calls = {k: v for k, v in self._calls.items() if now - v < self.max_call_age}
        self._media = {k: v for k, v in self._media.items() if now - v < self.media_window}
        # Instances silent for a long time are gone for good (replicas scaled down).
        self._instances = {
            k: v for k, v in self._instances.items() if now - v.seen < 20 * self.heartbeat_timeout
        }

    def _health(self, service: str, now: float) -> ServiceHealth:
        instances = [v for (s, _), v in self._instances.items() if s == service]
        if not instances:
            return ServiceHealth(service, ServiceStatus.UNKNOWN, 0, 0)
        fresh = [v for v in instances if now - v.seen < self.heartbeat_timeout]
        newest = max(v.seen for v in instances)
        age = max(0, int(now - newest))
        if not fresh:
            return ServiceHealth(service, ServiceStatus.DOWN, 0, age)
        statuses = {v.status for v in fresh}
        # One serving replica is enough for the service to be serving.
        status = next(
            s
            for s in (ServiceStatus.SERVING, ServiceStatus.STARTING, ServiceStatus.STOPPING)
            if s in statuses
        )
        return ServiceHealth(service, status, len(fresh), age)

    def snapshot(self, now: float) -> MetricsSnapshot:
        self.expire(now)
        return MetricsSnapshot(
            registered_accounts=len(self._registrations),
            active_calls=len(self._calls),
            calls_total=self._calls_total,
            media_sessions=len(self._media),
            transcoding_channels=self.transcoding_channels,
            licence_channels_total=self.licence_channels_total,
            licence_channels_in_use=self.licence_channels_in_use,
            phonebook_entries=self.phonebook_entries,
            services=tuple(self._health(s, now) for s in self.services),
        )

"""Per-source defence against floods, password guessing and user scanning (sans-IO).

Rules, all keyed by the source IP address and driven by the ``now`` the caller passes in:

* **Rate**: each source has a token bucket of ``request_burst`` tokens refilled at
  ``request_rate`` per second; a request finding it empty is dropped (``RATE_LIMITED``).
* **Failures**: a wrong password, a forged nonce or credentials for an unknown user are
  failures. A challenge answered correctly is not, and neither is the first REGISTER a
  phone sends without credentials (that is how digest starts), nor a stale nonce.
* **Probes**: a request naming a user that does not exist is a probe; scanners probe
  many users without ever sending credentials, so probes beyond ``max_probes`` within the
  window count as failures too. A scanner's User-Agent is a third signal: it counts as
  ``max_failures`` failures at once. None of these signals alone is needed to block.
* **Block**: ``max_failures`` failures within ``window`` seconds block the source for
  ``block_seconds``; a blocked source's requests are dropped without an answer, so a
  cracker learns nothing and spends its time on timeouts.

Memory is bounded: at most ``max_sources`` sources are tracked, least recently seen first out.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_SCANNER_AGENTS = (
    "friendly-scanner",
    "sipvicious",
    "sipcli",
    "sip-scan",
    "sipsak-scan",
    "vaxsipuseragent",
    "pplsip",
    "iWar",
    "sundayddr",
)


class Verdict(enum.Enum):
    ALLOW = "allow"
    RATE_LIMITED = "rate_limited"
    BLOCKED = "blocked"


class Signal(enum.Enum):
    AUTH_FAILURE = "auth_failure"
    UNKNOWN_USER = "unknown_user"
    SCANNER_AGENT = "scanner_agent"


@dataclass(frozen=True, slots=True)
class DefencePolicy:
    request_rate: float = 50.0
    request_burst: float = 200.0
    max_failures: int = 5
    max_probes: int = 10
    window: float = 60.0
    block_seconds: float = 600.0
    max_sources: int = 100_000
    scanner_agents: tuple[str, ...] = DEFAULT_SCANNER_AGENTS

    def __post_init__(self) -> None:
        if self.request_rate <= 0 or self.request_burst < 1:
            raise ValueError("request_rate must be > 0 and request_burst >= 1")
        if self.max_failures < 1 or self.window <= 0 or self.block_seconds < 0:
            raise ValueError("max_failures >= 1, window > 0 and block_seconds >= 0 required")


@dataclass(frozen=True, slots=True)
class SourceBlocked:
    """Emitted once when a source becomes blocked."""

    source_ip: str
    until: float
    reason: Signal
    failures: int


@dataclass(slots=True)
class _Source:
    tokens: float
    refilled: float
    failures: deque[float] = field(default_factory=deque)
    probes: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


@dataclass(slots=True)
class DefenceMetrics:
    requests: int = 0
    rate_limited: int = 0
    dropped_blocked: int = 0
    failures: int = 0
    probes: int = 0
    blocks: int = 0


class SourceGuard:
    def __init__(self, policy: DefencePolicy) -> None:
        self.policy = policy
        self.metrics = DefenceMetrics()
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._agents = tuple(a.lower() for a in policy.scanner_agents)

    def _source(self, ip: str, now: float) -> _Source:
        state = self._sources.get(ip)
        if state is None:
            state = _Source(tokens=self.policy.request_burst, refilled=now)
            self._sources[ip] = state
            if len(self._sources) > self.policy.max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(ip)
        return state

    def admit(self, ip: str, now: float) -> Verdict:
        """Call for every request received from ``ip``, before doing any work for it."""
        self.metrics.requests += 1
        state = self._source(ip, now)
        if now < state.blocked_until:
            self.metrics.dropped_blocked += 1
            return Verdict.BLOCKED
        p = self.policy
        state.tokens = min(p.request_burst, state.tokens + (now - state.refilled) * p.request_rate)
        state.refilled = now
        if state.tokens < 1:
            self.metrics.rate_limited += 1
            return Verdict.RATE_LIMITED
        state.tokens -= 1
        return Verdict.ALLOW

    def is_scanner(self, user_agent: str) -> bool:
        agent = user_agent.lower()
        return any(a in agent for a in self._agents)

    def report(self, ip: str, signal: Signal, now: float) -> SourceBlocked | None:
        """Record a bad sign from ``ip``; returns the block it caused, if any."""
        state = self._source(ip, now)
        if now < state.blocked_until:
            return None
        window_start = now - self.policy.window
        for times in (state.failures, state.probes):
            while times and times[0] < window_start:
                times.popleft()
        if signal is Signal.UNKNOWN_USER:
            self.metrics.probes += 1
            state.probes.append(now)
            if len(state.probes) <= self.policy.max_probes:
                return None
        weight = self.policy.max_failures if signal is Signal.SCANNER_AGENT else 1
        self.metrics.failures += weight
        state.failures.extend([now] * weight)
        if len(state.failures) < self.policy.max_failures:
            return None
        state.blocked_until = now + self.policy.block_seconds
        failures = len(state.failures)
        state.failures.clear()
        state.probes.clear()
        self.metrics.blocks += 1
        return SourceBlocked(ip, state.blocked_until, signal, failures)

    def blocked(self, now: float) -> Iterable[tuple[str, float]]:
        return [(ip, s.blocked_until) for ip, s in self._sources.items() if now < s.blocked_until]

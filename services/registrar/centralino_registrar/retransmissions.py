"""Absorbing UDP retransmissions at the edge (RFC 3261 §17.2, sans-IO).

A phone on UDP resends a request until it hears an answer. Processing a resent REGISTER
or INVITE again would cost a second KV write and, worse, replay its digest nonce-count,
which the digest check rightly refuses (so a slow answer would turn into an
"authentication failure" and eventually a block). So every UDP request is looked up
here first, by its transaction key (top Via branch and sent-by, and the method):

* unseen: remember it as in progress and process it;
* in progress: drop the copy (the answer is on its way);
* answered by us: send the same answer again;
* forwarded to the router: send the same forwarded bytes again (the router's own
  transaction layer absorbs or answers it).

Entries live 32 s (64*T1, the longest a client retransmits: Timers B/F and J), the
table is bounded, oldest first out.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

Destination = tuple[str, int]
Key = tuple[str, str, str]

#: 64*T1: a client stops retransmitting after this (RFC 3261 §17.1.1.2, §17.1.2.2)
LIFETIME = 32.0


class State(enum.Enum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    FORWARDED = "forwarded"


@dataclass(slots=True)
class Entry:
    state: State
    created: float
    data: bytes = b""
    destination: Destination | None = None


class RetransmissionFilter:
    def __init__(self, max_entries: int = 200_000, lifetime: float = LIFETIME) -> None:
        self.max_entries = max_entries
        self.lifetime = lifetime
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.created < self.lifetime and len(self._entries) <= self.max_entries:
                return
            del self._entries[key]

    def check(self, key: Key, now: float) -> Entry | None:
        """None for a new request (now in progress); else the entry of its original."""
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        self._entries[key] = Entry(State.IN_PROGRESS, now)
        return None

    def answered(self, key: Key, data: bytes, destination: Destination) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.state, entry.data, entry.destination = State.ANSWERED, data, destination

    def forwarded(self, key: Key, data: bytes, destination: Destination) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.state, entry.data, entry.destination = State.FORWARDED, data, destination

    def forget_unanswered(self, key: Key) -> None:
        """Processing ended without an answer (dropped, failed): a retransmission may
        try again."""
        entry = self._entries.get(key)
        if entry is not None and entry.state is State.IN_PROGRESS:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)

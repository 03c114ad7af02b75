"""RTP port allocation from a configured range (sans-IO).

RTP takes an even port and RTCP the next odd one (RFC 3550 §11). Ports are handed out
round-robin so a just-released port is not reused at once: late packets of the previous
call must not land in the next one.
"""

from __future__ import annotations


class PortsExhaustedError(RuntimeError):
    """Every RTP port pair of the range is in use."""


class PortAllocator:
    def __init__(self, first: int, last: int) -> None:
        first += first % 2
        if not 1024 <= first < last <= 65535 or last - first < 1:
            raise ValueError(f"bad RTP port range {first}-{last}")
        self.first = first
        self.last = last - (last - first + 1) % 2  # last usable RTCP port
        self._free = list(range(first, self.last, 2))
        self._used: set[int] = set()

    @property
    def capacity(self) -> int:
        return len(self._free) + len(self._used)

    @property
    def in_use(self) -> int:
        return len(self._used)

    def acquire(self) -> int:
        """An even RTP port whose odd neighbour is RTCP."""
        if not self._free:
            raise PortsExhaustedError(f"all {self.capacity} RTP port pairs are in use")
        port = self._free.pop(0)
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        if port in self._used:
            self._used.remove(port)
            self._free.append(port)

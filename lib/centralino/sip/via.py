"""The Via header (RFC 3261 §20.42, §18.2.1) and RFC 3581 rport handling."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from centralino.sip.errors import SipHeaderError
from centralino.sip.grammar import split_params

__all__ = ["BRANCH_MAGIC_COOKIE", "Via", "apply_received_rport", "parse_via"]

BRANCH_MAGIC_COOKIE = "z9hG4bK"

# sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS;
# sent-by = host [ COLON port ]. Host is a hostname, IPv4 or an IPv6 reference.
_VIA_RE = re.compile(
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*"
    r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?[ \t]*"
)


@dataclass(slots=True, eq=False)
class Via:
    """One Via value. ``params`` keeps every parameter (lower-cased names) in wire order."""

    host: str
    port: int | None = None
    transport: str = "UDP"
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The rport value filled in by a server, ``None`` if absent or still empty."""
        value = self.params.get("rport")
        return int(value) if value else None

    @property
    def wants_rport(self) -> bool:
        return "rport" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_rfc3261_branch(self) -> bool:
        branch = self.branch
        return branch is not None and branch.startswith(BRANCH_MAGIC_COOKIE)

    def copy(self) -> Via:
        return Via(self.host, self.port, self.transport, dict(self.params), self.protocol)

    def __str__(self) -> str:
        parts = [self.protocol, "/", self.transport, " ", self.sent_by]
        for name, value in self.params.items():
            parts += (";", name) if value is None else (";", name, "=", value)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


def parse_via(value: str) -> Via:
    """Parse one Via value (already split at commas)."""
    m = _VIA_RE.match(value)
    if m is None:
        raise SipHeaderError("Via", repr(value[:60]))
    name, version, transport, host, port_text = m.groups()
    rest = value[m.end() :]
    params: dict[str, str | None] = {}
    if rest:
        if rest[0] != ";":
            raise SipHeaderError("Via", f"unexpected {rest[:20]!r}")
        try:
            params = dict(split_params(rest[1:], "Via"))
        except ValueError as exc:
            raise SipHeaderError("Via", str(exc)) from None
    port = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            raise SipHeaderError("Via", "port out of range")
    if "rport" in params and params["rport"] is not None and not params["rport"].isdigit():
        raise SipHeaderError("Via", "rport is not a number")
    return Via(host, port, transport.upper(), params, f"{name.upper()}/{version}")


def apply_received_rport(via: Via, source_host: str, source_port: int) -> Via:
    """Record where a request really came from in its top Via (§18.2.1, RFC 3581 §4).

    ``received`` is added when the sent-by host differs from the source address, and
    always when the client asked for ``rport`` (RFC 3581 requires both then). Mutates
    and returns ``via``.
    """
    bare = source_host.strip("[]")
    if via.wants_rport:
        via.params["rport"] = str(source_port)
        via.params["received"] = bare
    elif via.host.strip("[]").lower() != bare.lower():
        via.params["received"] = bare
    return via

"""Locating SIP servers (RFC 3263 §4): from a SIP URI to an ordered list of targets.

The steps, in the order RFC 3263 applies them:

1. The target host is the URI's ``maddr`` parameter if present, else its host.
2. Transport: an explicit ``transport`` parameter wins. Otherwise a numeric host or an
   explicit port means UDP for ``sip:`` and TLS for ``sips:`` (§4.1). Otherwise NAPTR
   records of the host choose it (order, then preference), restricted to transports we
   support and, for ``sips:``, to secure ones. Without usable NAPTR records, SRV
   queries for each supported transport decide; without those either, UDP (or TLS).
3. Port and address (§4.2): a numeric host is used as is; an explicit port skips SRV and
   looks up A/AAAA; otherwise SRV records (priority, then weighted random, RFC 2782)
   give host and port, and without SRV records the transport's default port is used.

WebSocket (RFC 7118 §7) adds the NAPTR services ``SIP+D2W``/``SIPS+D2W`` and the SRV
prefixes ``_sip._ws``/``_sips._ws``.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from centralino.sip.errors import SipParseError
from centralino.sip.transport.flow import TransportKind
from centralino.sip.uri import SipUri, parse_uri

__all__ = ["DEFAULT_TRANSPORTS", "ResolutionError", "SipResolver", "Target"]

# NAPTR services (RFC 3263 §4.1, RFC 7118 §7) and SRV prefixes (§4.2) per transport.
_NAPTR_SERVICES = {
    "SIP+D2U": TransportKind.UDP,
    "SIP+D2T": TransportKind.TCP,
    "SIPS+D2T": TransportKind.TLS,
    "SIP+D2W": TransportKind.WS,
    "SIPS+D2W": TransportKind.WSS,
}
_SRV_PREFIX = {
    TransportKind.UDP: "_sip._udp",
    TransportKind.TCP: "_sip._tcp",
    TransportKind.TLS: "_sips._tcp",
    TransportKind.WS: "_sip._ws",
    TransportKind.WSS: "_sips._ws",
}
# A server connects out over these; WS and WSS are for clients that connect to us.
DEFAULT_TRANSPORTS = (TransportKind.UDP, TransportKind.TCP, TransportKind.TLS)


class ResolutionError(Exception):
    """No target could be found for a SIP URI (or the URI cannot be resolved at all)."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send: transport, IP address, port.

    ``server_name`` is the domain the URI named, which TLS must verify the server's
    certificate against (RFC 5922 §4), not the host an SRV record pointed to.
    """

    transport: TransportKind
    host: str
    port: int
    server_name: str


def _numeric(host: str) -> str | None:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return None


def _kind_for(transport: str, secure: bool) -> TransportKind:
    token = transport.lower()
    if secure:
        # RFC 3261 §19.1.2: sips: over "tcp" means TLS; UDP cannot be secured here.
        token = {"tcp": "tls", "tls": "tls", "ws": "wss", "wss": "wss"}.get(token, token)
    try:
        kind = TransportKind(token)
    except ValueError:
        raise ResolutionError(f"unsupported transport {transport!r}") from None
    if secure and not kind.secure:
        raise ResolutionError(f"a sips: URI cannot use transport {transport!r}")
    return kind


class SipResolver:
    """RFC 3263 resolution over a dnspython async resolver.

    ``transports`` are those we can use, in the order we prefer them when DNS does not
    order them for us. ``rng`` drives the SRV weight selection (inject one to test).
    """

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver | None = None,
        *,
        transports: Sequence[TransportKind] = DEFAULT_TRANSPORTS,
        rng: random.Random | None = None,
        prefer_ipv6: bool = False,
    ) -> None:
        self._dns = resolver or dns.asyncresolver.Resolver()
        self._transports = tuple(transports)
        self._rng = rng or random.Random()
        self._prefer_ipv6 = prefer_ipv6

    async def resolve_uri(self, uri: SipUri | str) -> list[Target]:
        """Targets for a ``sip:``/``sips:`` URI, honouring its port, transport and maddr."""
        if isinstance(uri, str):
            try:
                uri = parse_uri(uri)
            except SipParseError as exc:
                raise ResolutionError(f"cannot resolve {uri!r}: {exc.reason}") from exc
        if uri.scheme not in ("sip", "sips"):
            raise ResolutionError(f"cannot resolve a {uri.scheme}: URI: {uri}")
        maddr = uri.params.get("maddr")
        return await self.resolve(
            maddr or uri.host,
            port=uri.port,
            transport=uri.transport,
            secure=uri.scheme == "sips",
        )

    async def resolve(
        self,
        host: str,
        *,
        port: int | None = None,
        transport: str | None = None,
        secure: bool = False,
    ) -> list[Target]:
        """Targets for a host (already ``maddr`` if the URI had one), best first.

        Raises :class:`ResolutionError` when nothing resolves.
        """
        kind = _kind_for(transport, secure) if transport else None
        ip = _numeric(host)
        if ip is not None:
            if kind is None:
                kind = TransportKind.TLS if secure else TransportKind.UDP
            return [Target(kind, ip, port or kind.default_port, ip)]
        name = host.rstrip(".")
        if port is not None:
            kind = kind or (TransportKind.TLS if secure else TransportKind.UDP)
            targets = await self._addresses(kind, name, port, name)
        elif kind is not None:
            targets = await self._srv_or_default(kind, name)
        else:
            targets = await self._naptr(name, secure)
            if not targets:
                targets = await self._srv_per_transport(name, secure)
            if not targets:
                fallback = TransportKind.TLS if secure else TransportKind.UDP
                targets = await self._addresses(fallback, name, fallback.default_port, name)
        if not targets:
            raise ResolutionError(f"no address found for {host!r}")
        return list(dict.fromkeys(targets))

    # -- steps -------------------------------------------------------------------

    async def _naptr(self, name: str, secure: bool) -> list[Target]:
        records = [r for r in await self._query(name, "NAPTR") if isinstance(r, NAPTR)]
        usable: list[tuple[int, int, TransportKind, str]] = []
        for r in records:
            service = r.service.decode("ascii", "replace").upper()
            kind = _NAPTR_SERVICES.get(service)
            if kind is None or kind not in self._transports or r.flags.lower() != b"s":
                continue
            if secure and not kind.secure:
                continue
            usable.append((r.order, r.preference, kind, r.replacement.to_text(True)))
        targets: list[Target] = []
        for _, _, kind, srv_name in sorted(usable, key=lambda u: (u[0], u[1])):
            targets += await self._srv(kind, srv_name, name)
        return targets

    async def _srv_per_transport(self, name: str, secure: bool) -> list[Target]:
        targets: list[Target] = []
        for kind in self._transports:
            if secure and not kind.secure:
                continue
            targets += await self._srv(kind, f"{_SRV_PREFIX[kind]}.{name}", name)
        return targets

    async def _srv_or_default(self, kind: TransportKind, name: str) -> list[Target]:
        targets = await self._srv(kind, f"{_SRV_PREFIX[kind]}.{name}", name)
        return targets or await self._addresses(kind, name, kind.default_port, name)

    async def _srv(self, kind: TransportKind, srv_name: str, server_name: str) -> list[Target]:
        records = [r for r in await self._query(srv_name, "SRV") if isinstance(r, SRV)]
        targets: list[Target] = []
        for record in self._srv_order(records):
            host = record.target.to_text(True)
            if host in ("", "."):  # RFC 2782: "." means the service is not offered
                continue
            targets += await self._addresses(kind, host, record.port, server_name)
        return targets

    def _srv_order(self, records: Sequence[SRV]) -> list[SRV]:
        """RFC 2782 order: ascending priority, weighted random within a priority."""
        ordered: list[SRV] = []
        for priority in sorted({r.priority for r in records}):
            # Zero weights first, so they get a small chance when others have weight.
            group = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)
            while group:
                pick = self._rng.randint(0, sum(r.weight for r in group))
                running = 0
                for i, r in enumerate(group):
                    running += r.weight
                    if running >= pick:
                        ordered.append(group.pop(i))
                        break
        return ordered

    async def _addresses(
        self, kind: TransportKind, host: str, port: int, server_name: str
    ) -> list[Target]:
        ip = _numeric(host)
        if ip is not None:
            return [Target(kind, ip, port, server_name)]
        rdtypes = ("AAAA", "A") if self._prefer_ipv6 else ("A", "AAAA")
        targets: list[Target] = []
        for rdtype in rdtypes:
            for r in await self._query(host, rdtype):
                targets.append(Target(kind, r.to_text(), port, server_name))
        return targets

    async def _query(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        """The records of a name, empty when the name or the type does not exist."""
        try:
            answer = await self._dns.resolve(dns.name.from_text(name), rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            raise ResolutionError(f"DNS {rdtype} query for {name} failed: {exc}") from exc
        except dns.exception.DNSException as exc:
            raise ResolutionError(f"invalid DNS {rdtype} query for {name!r}: {exc}") from exc
        return list(answer)

"""A tiny authoritative DNS responder on loopback UDP, for RFC 3263 tests.

Zone data is a dict ``{(name, type): [rdata text, ...]}``; a name absent from every key
is NXDOMAIN, a present name without the asked type is NOERROR with no answer.
"""

from __future__ import annotations

import asyncio
from typing import cast

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zone = dict[tuple[str, str], list[str]]


class DnsResponder(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = {(dns.name.from_text(n), t.upper()): v for (n, t), v in zone.items()}
        self.names = {n for n, _ in self.zone}
        self.queries: list[tuple[str, str]] = []
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        assert self._transport is not None
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((question.name.to_text(True), rdtype))
        records = self.zone.get((question.name, rdtype))
        if records:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, rdtype, records)
            )
        elif question.name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self._transport.sendto(response.to_wire(), addr)


async def start_dns(zone: Zone) -> tuple[DnsResponder, asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, responder = await loop.create_datagram_endpoint(
        lambda: DnsResponder(zone), local_addr=("127.0.0.1", 0)
    )
    return responder, transport, transport.get_extra_info("sockname")[1]

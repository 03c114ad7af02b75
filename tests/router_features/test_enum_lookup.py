"""ENUM lookups (FEAT-07, RFC 6116/3402/3403) against a DNS server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from centralino_router.features.enum_lookup import (
    EnumError,
    EnumResolver,
    Naptr,
    apply_regexp,
    choose_sip_uri,
    enum_domain,
)

SUFFIX = "enum.test"
ZONE: dict[str, list[str]] = {
    # order beats preference; the mailto record and the non-terminal one are skipped
    enum_domain("+390612345", SUFFIX): [
        '20 10 "u" "E2U+sip" "!^.*$!sip:late@example.org!" .',
        '10 50 "u" "E2U+mailto" "!^.*$!mailto:a@example.org!" .',
        '10 20 "u" "E2U+sip" "!^\\\\+39(.*)$!sip:\\\\1@voip.example.it!" .',
        '5 10 "" "E2U+sip" "" next.example.org.',
    ],
    enum_domain("+4912", SUFFIX): ['10 10 "u" "E2U+mailto" "!^.*$!mailto:x@y!" .'],
    enum_domain("+4913", SUFFIX): ['10 10 "u" "E2U+sip" "!^(((!sip:broken!" .'],
}
GARBAGE = enum_domain("+4414", SUFFIX)
SILENT = enum_domain("+4415", SUFFIX)


class _EnumServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector transport does not inherit DatagramTransport on every Python
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        name = query.question[0].name.to_text()
        if name == SILENT:
            return
        if name == GARBAGE:
            self.transport.sendto(data[:2] + b"\x81\x80\xff\xff garbage", addr)
            return
        response = dns.message.make_response(query)
        records = ZONE.get(name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.append(
                dns.rrset.from_text_list(name, 60, dns.rdataclass.IN, dns.rdatatype.NAPTR, records)
            )
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def resolver() -> AsyncIterator[EnumResolver]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_EnumServer, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    yield EnumResolver(SUFFIX, nameservers=["127.0.0.1"], port=port, timeout=0.5)
    transport.close()


def test_enum_domain() -> None:
    assert enum_domain("+4961234") == "4.3.2.1.6.9.4.e164.arpa."
    assert enum_domain("+12", "enum.test.") == "2.1.enum.test."
    for bad in ("4961234", "+", "+1234567890123456", "+12a"):
        with pytest.raises(EnumError):
            enum_domain(bad)


async def test_hit_picks_lowest_order_sip_record(resolver: EnumResolver) -> None:
    assert await resolver.lookup("+390612345") == "sip:0612345@voip.example.it"


@pytest.mark.parametrize("number", ["+4911", "+4912", "+4913", "+4414", "+4415"])
async def test_miss_and_garbage_fall_back_to_trunk(resolver: EnumResolver, number: str) -> None:
    """NXDOMAIN, no sip service, a broken regexp, a garbage packet, a timeout."""
    assert await resolver.lookup(number) is None


@pytest.mark.parametrize(
    ("regexp", "expected"),
    [
        ("!^.*$!sip:info@example.com!", "sip:info@example.com"),
        ("!^\\+1(.*)$!sip:\\1@gw.example!", "sip:555@gw.example"),
        ("/^.*$/sip:\\0@x/", "sip:+1555@x"),
        ("!^\\+44!sip:a@b!", None),
        ("!^\\+1(5)!sip:A@b!i", "sip:A@b"),
    ],
)
def test_apply_regexp(regexp: str, expected: str | None) -> None:
    assert apply_regexp(regexp, "+1555") == expected


@pytest.mark.parametrize("bad", ["", "!!", "!a!b", "!a!b!x", "1a1b1", "!(!x!", "!a!\\3!"])
def test_bad_regexps(bad: str) -> None:
    with pytest.raises(EnumError):
        apply_regexp(bad, "a")


@pytest.mark.parametrize(
    ("flags", "services", "regexp", "expected"),
    [
        ("u", "E2U+sip", "!^.*$!sip:a@b!", "sip:a@b"),
        ("U", "e2u+voice:tel+sip", "!^.*$!sips:a@b!", "sips:a@b"),
        ("u", "E2U+sip", "!^.*$!http://x!", None),
        ("u", "E2U+email:mailto", "!^.*$!sip:a@b!", None),
        ("", "E2U+sip", "!^.*$!sip:a@b!", None),
        ("u", "SIP+D2U", "!^.*$!sip:a@b!", None),
    ],
)
def test_only_terminal_e2u_sip_records_count(
    flags: str, services: str, regexp: str, expected: str | None
) -> None:
    assert choose_sip_uri([Naptr(1, 1, flags, services, regexp)], "+1") == expected

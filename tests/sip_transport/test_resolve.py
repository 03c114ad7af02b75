"""RFC 3263 server location against a real DNS responder on loopback."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import dns.asyncresolver
import pytest

from centralino.sip.resolve import ResolutionError, SipResolver, Target
from centralino.sip.transport import TransportKind

from .dns_server import DnsResponder, start_dns

UDP, TCP, TLS, WS, WSS = (
    TransportKind.UDP,
    TransportKind.TCP,
    TransportKind.TLS,
    TransportKind.WS,
    TransportKind.WSS,
)

ZONE = {
    # NAPTR in the order TLS, TCP, UDP; WS present but not a transport we connect out on.
    ("naptr.test", "NAPTR"): [
        '10 50 "s" "SIPS+D2T" "" _sips._tcp.naptr.test.',
        '20 50 "s" "SIP+D2T" "" _sip._tcp.naptr.test.',
        '30 50 "s" "SIP+D2U" "" _sip._udp.naptr.test.',
        '5 50 "s" "SIP+D2W" "" _sip._ws.naptr.test.',
        '1 50 "u" "E2U+sip" "!^.*$!sip:x@y!" .',
    ],
    ("_sips._tcp.naptr.test", "SRV"): ["0 0 5061 tls1.naptr.test."],
    ("_sip._tcp.naptr.test", "SRV"): ["0 0 5070 pbx.naptr.test."],
    ("_sip._udp.naptr.test", "SRV"): ["0 0 5080 pbx.naptr.test."],
    ("_sip._ws.naptr.test", "SRV"): ["0 0 8080 pbx.naptr.test."],
    ("tls1.naptr.test", "A"): ["192.0.2.10"],
    ("pbx.naptr.test", "A"): ["192.0.2.20"],
    ("pbx.naptr.test", "AAAA"): ["2001:db8::20"],
    # No NAPTR: SRV per transport, priorities and a dead service.
    ("srv.test", "A"): ["192.0.2.99"],
    ("_sip._udp.srv.test", "SRV"): [
        "20 0 5060 backup.srv.test.",
        "10 0 5060 primary.srv.test.",
    ],
    ("_sip._tcp.srv.test", "SRV"): ["0 0 0 ."],
    ("primary.srv.test", "A"): ["192.0.2.1"],
    ("backup.srv.test", "A"): ["192.0.2.2"],
    # Weighted SRV records at one priority.
    ("_sip._udp.weighted.test", "SRV"): [
        "10 90 5060 heavy.weighted.test.",
        "10 10 5060 light.weighted.test.",
    ],
    ("heavy.weighted.test", "A"): ["192.0.2.51"],
    ("light.weighted.test", "A"): ["192.0.2.52"],
    # Neither NAPTR nor SRV: A/AAAA with the default port.
    ("plain.test", "A"): ["192.0.2.30"],
    ("plain.test", "AAAA"): ["2001:db8::30"],
    ("maddr.test", "A"): ["192.0.2.40"],
}


@pytest.fixture(scope="module")
async def dns_server() -> AsyncIterator[tuple[DnsResponder, int]]:
    responder, transport, port = await start_dns(ZONE)
    yield responder, port
    transport.close()


def make_resolver(port: int, **kwargs: object) -> SipResolver:
    dns_resolver = dns.asyncresolver.Resolver(configure=False)
    dns_resolver.nameservers = ["127.0.0.1"]
    dns_resolver.port = port
    dns_resolver.lifetime = 2.0
    return SipResolver(dns_resolver, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


async def test_feat01_naptr_order_then_srv_then_a_aaaa(
    dns_server: tuple[DnsResponder, int],
) -> None:
    targets = await make_resolver(dns_server[1]).resolve_uri("sip:alice@naptr.test")
    assert targets == [
        Target(TLS, "192.0.2.10", 5061, "naptr.test"),
        Target(TCP, "192.0.2.20", 5070, "naptr.test"),
        Target(TCP, "2001:db8::20", 5070, "naptr.test"),
        Target(UDP, "192.0.2.20", 5080, "naptr.test"),
        Target(UDP, "2001:db8::20", 5080, "naptr.test"),
    ]


async def test_feat01_naptr_ws_used_only_when_supported(
    dns_server: tuple[DnsResponder, int],
) -> None:
    resolver = make_resolver(dns_server[1], transports=(UDP, WS))
    targets = await resolver.resolve_uri("sip:naptr.test")
    assert [(t.transport, t.port) for t in targets][:2] == [(WS, 8080), (WS, 8080)]
    assert {t.transport for t in targets} == {WS, UDP}


async def test_feat01_sips_keeps_only_secure_naptr(dns_server: tuple[DnsResponder, int]) -> None:
    targets = await make_resolver(dns_server[1]).resolve_uri("sips:bob@naptr.test")
    assert targets == [Target(TLS, "192.0.2.10", 5061, "naptr.test")]


async def test_feat01_srv_priority_and_dead_service(dns_server: tuple[DnsResponder, int]) -> None:
    targets = await make_resolver(dns_server[1]).resolve_uri("sip:srv.test")
    assert targets == [
        Target(UDP, "192.0.2.1", 5060, "srv.test"),
        Target(UDP, "192.0.2.2", 5060, "srv.test"),
    ]


async def test_feat01_srv_weights_pick_the_heavy_target_most_often(
    dns_server: tuple[DnsResponder, int],
) -> None:
    resolver = make_resolver(dns_server[1])
    firsts = [(await resolver.resolve_uri("sip:weighted.test"))[0].host for _ in range(60)]
    heavy = firsts.count("192.0.2.51")
    assert 40 <= heavy < 60, heavy  # 90 % expected; both must appear


async def test_feat01_no_naptr_no_srv_means_a_aaaa_and_default_port(
    dns_server: tuple[DnsResponder, int],
) -> None:
    resolver = make_resolver(dns_server[1], prefer_ipv6=True)
    assert await resolver.resolve_uri("sip:plain.test") == [
        Target(UDP, "2001:db8::30", 5060, "plain.test"),
        Target(UDP, "192.0.2.30", 5060, "plain.test"),
    ]
    assert (await resolver.resolve_uri("sips:plain.test"))[0] == Target(
        TLS, "2001:db8::30", 5061, "plain.test"
    )


async def test_feat01_explicit_port_skips_naptr_and_srv(
    dns_server: tuple[DnsResponder, int],
) -> None:
    responder, port = dns_server
    before = len(responder.queries)
    targets = await make_resolver(port).resolve_uri("sip:pbx.naptr.test:5099")
    assert targets == [
        Target(UDP, "192.0.2.20", 5099, "pbx.naptr.test"),
        Target(UDP, "2001:db8::20", 5099, "pbx.naptr.test"),
    ]
    asked = {rdtype for _, rdtype in responder.queries[before:]}
    assert asked <= {"A", "AAAA"}


async def test_feat01_explicit_transport_uses_its_srv(dns_server: tuple[DnsResponder, int]) -> None:
    resolver = make_resolver(dns_server[1])
    assert await resolver.resolve_uri("sip:naptr.test;transport=tcp") == [
        Target(TCP, "192.0.2.20", 5070, "naptr.test"),
        Target(TCP, "2001:db8::20", 5070, "naptr.test"),
    ]
    # sips + transport=tcp is TLS (RFC 3261 §19.1.2).
    assert await resolver.resolve_uri("sips:naptr.test;transport=tcp") == [
        Target(TLS, "192.0.2.10", 5061, "naptr.test"),
    ]
    # No SRV for this transport: A/AAAA on the transport's default port.
    assert await resolver.resolve_uri("sip:plain.test;transport=tls") == [
        Target(TLS, "192.0.2.30", 5061, "plain.test"),
        Target(TLS, "2001:db8::30", 5061, "plain.test"),
    ]


async def test_feat01_maddr_replaces_the_host(dns_server: tuple[DnsResponder, int]) -> None:
    resolver = make_resolver(dns_server[1])
    assert await resolver.resolve_uri("sip:bob@plain.test:5070;maddr=maddr.test") == [
        Target(UDP, "192.0.2.40", 5070, "maddr.test")
    ]
    assert await resolver.resolve_uri("sip:bob@plain.test;maddr=198.51.100.7") == [
        Target(UDP, "198.51.100.7", 5060, "198.51.100.7")
    ]


async def test_feat01_numeric_hosts_need_no_dns(dns_server: tuple[DnsResponder, int]) -> None:
    responder, port = dns_server
    before = len(responder.queries)
    resolver = make_resolver(port)
    assert await resolver.resolve_uri("sip:127.0.0.1") == [
        Target(UDP, "127.0.0.1", 5060, "127.0.0.1")
    ]
    assert await resolver.resolve_uri("sips:[::1]:5071") == [Target(TLS, "::1", 5071, "::1")]
    assert await resolver.resolve_uri("sip:u@[2001:db8::1];transport=ws") == [
        Target(WS, "2001:db8::1", 80, "2001:db8::1")
    ]
    assert responder.queries[before:] == []


async def test_feat01_unknown_domain_is_a_resolution_error(
    dns_server: tuple[DnsResponder, int],
) -> None:
    with pytest.raises(ResolutionError, match=r"no address found for 'nowhere\.test'"):
        await make_resolver(dns_server[1]).resolve_uri("sip:nowhere.test")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://example.com", "Unsupported URI scheme 'http'"),
        ("tel:+3902123456", "cannot resolve a tel: URI"),
        ("sip:example.com;transport=sctp", "unsupported transport 'sctp'"),
        ("sips:example.com;transport=udp", "a sips: URI cannot use transport 'udp'"),
        ("sip:example.com:70000", "Port out of range"),
    ],
)
async def test_feat01_bad_uris_name_the_problem(
    dns_server: tuple[DnsResponder, int], uri: str, reason: str
) -> None:
    with pytest.raises(ResolutionError, match=reason):
        await make_resolver(dns_server[1]).resolve_uri(uri)


async def test_feat01_dead_nameserver_is_a_resolution_error() -> None:
    resolver = make_resolver(9)  # discard port: nobody answers
    resolver._dns.lifetime = 0.3  # keep the timeout short
    with pytest.raises(ResolutionError, match=r"DNS NAPTR query for plain\.test failed"):
        await resolver.resolve_uri("sip:plain.test")


async def test_feat01_uri_params_are_read_case_insensitively(
    dns_server: tuple[DnsResponder, int],
) -> None:
    resolver = make_resolver(dns_server[1])
    assert await resolver.resolve_uri(
        "SIPS:alice@Example.com:5061;Transport=TCP;MADDR=10.0.0.1"
    ) == [Target(TLS, "10.0.0.1", 5061, "10.0.0.1")]

"""Sans-IO cores of the registrar: ACL, nonces, source defence, digest (no sockets)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centralino_registrar.acl import Acl, AclConfigError
from centralino_registrar.defence import DefencePolicy, Signal, SourceGuard, Verdict
from centralino_registrar.extract import parse_digest
from centralino_registrar.flowtoken import FlowTokenError, decode_flow


@pytest.mark.parametrize(
    ("address", "mask", "source", "allowed"),
    [
        ("", "", "203.0.113.9", True),
        ("192.168.1.0", "255.255.255.0", "192.168.1.77", True),
        ("192.168.1.0", "255.255.255.0", "192.168.2.1", False),
        ("192.168.1.10", "255.255.255.0", "192.168.1.200", True),  # host bits ignored
        ("192.168.1.10", "", "192.168.1.10", True),  # no mask: that host only
        ("192.168.1.10", "", "192.168.1.11", False),
        ("10.0.0.0", "8", "10.200.1.1", True),
        ("127.0.0.1", "255.255.255.255", "::ffff:127.0.0.1", True),
        ("2001:db8::", "32", "2001:db8::1", True),
        ("2001:db8::", "32", "127.0.0.1", False),
        ("127.0.0.1", "255.255.255.255", "not-an-ip", False),
    ],
)
def test_acc11_acl_address_and_mask(address: str, mask: str, source: str, allowed: bool) -> None:
    assert Acl.parse(address, mask).allows(source) is allowed


@pytest.mark.parametrize(
    ("address", "mask"), [("nonsense", ""), ("10.0.0.1", "255.0.255.0"), ("10.0.0.1", "mask")]
)
def test_acc11_unreadable_acl_is_a_clear_error(address: str, mask: str) -> None:
    with pytest.raises(AclConfigError, match="invalid ACL"):
        Acl.parse(address, mask)


def test_rate_limit_token_bucket() -> None:
    guard = SourceGuard(DefencePolicy(request_rate=10, request_burst=5))
    assert [guard.admit("198.51.100.1", 0.0) for _ in range(6)][-2:] == [
        Verdict.ALLOW,
        Verdict.RATE_LIMITED,
    ]
    assert guard.admit("198.51.100.2", 0.0) is Verdict.ALLOW  # per source
    assert guard.admit("198.51.100.1", 0.1) is Verdict.ALLOW  # refilled one token
    assert guard.metrics.rate_limited == 1


def test_failures_block_then_unblock() -> None:
    guard = SourceGuard(DefencePolicy(max_failures=3, window=10, block_seconds=60))
    ip = "198.51.100.7"
    assert guard.report(ip, Signal.AUTH_FAILURE, 0.0) is None
    assert guard.report(ip, Signal.AUTH_FAILURE, 1.0) is None
    blocked = guard.report(ip, Signal.AUTH_FAILURE, 2.0)
    assert blocked is not None and blocked.until == 62.0 and blocked.failures == 3
    assert guard.admit(ip, 30.0) is Verdict.BLOCKED
    assert guard.admit(ip, 62.5) is Verdict.ALLOW
    assert guard.metrics.blocks == 1 and guard.metrics.dropped_blocked == 1


def test_failures_outside_the_window_are_forgotten() -> None:
    guard = SourceGuard(DefencePolicy(max_failures=3, window=10))
    ip = "198.51.100.8"
    for t in (0.0, 11.0, 22.0, 33.0):
        assert guard.report(ip, Signal.AUTH_FAILURE, t) is None


def test_probes_count_only_beyond_the_allowance() -> None:
    guard = SourceGuard(DefencePolicy(max_failures=2, max_probes=3))
    ip = "198.51.100.9"
    results = [guard.report(ip, Signal.UNKNOWN_USER, float(t)) for t in range(5)]
    assert results[:4] == [None] * 4 and results[4] is not None
    assert results[4].reason is Signal.UNKNOWN_USER


def test_scanner_agent_blocks_at_once_and_matching_is_case_insensitive() -> None:
    guard = SourceGuard(DefencePolicy())
    assert guard.is_scanner("Friendly-Scanner 1.0")
    assert not guard.is_scanner("baresip v1.0.0 (x86_64/linux)")
    assert guard.report("198.51.100.10", Signal.SCANNER_AGENT, 0.0) is not None


def test_tracked_sources_are_bounded() -> None:
    guard = SourceGuard(DefencePolicy(max_sources=100))
    for i in range(1000):
        guard.admit(f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(guard._sources) == 100


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        DefencePolicy(request_rate=0)
    with pytest.raises(ValueError):
        DefencePolicy(max_failures=0)


@given(st.text(max_size=60), st.text(max_size=30))
def test_acl_parse_fuzz_only_raises_its_own_error(address: str, mask: str) -> None:
    try:
        acl = Acl.parse(address, mask)
    except AclConfigError:
        return
    acl.allows("127.0.0.1")


@given(st.text(max_size=200))
def test_flow_token_and_digest_parsers_fuzz(text: str) -> None:
    with contextlib.suppress(FlowTokenError):
        decode_flow(text)
    parse_digest(text, "Authorization")
    parse_digest("Digest " + text, "Authorization")


async def test_config_events_drop_only_what_they_affect() -> None:
    from centralino.v1 import config_pb2
    from centralino_registrar.accounts import AccountDirectory

    calls: list[str] = []

    class Stub:
        async def GetAccount(
            self, request: config_pb2.GetAccountRequest, timeout: float
        ) -> config_pb2.Account:
            calls.append(request.username)
            return config_pb2.Account(
                tenant="t", username=request.username, extension_number=request.username[:3]
            )

    directory = AccountDirectory(Stub())  # type: ignore[arg-type]
    for user in ("201a", "201b", "202a"):
        await directory.account(user)
    await directory.account("201a")
    assert calls == ["201a", "201b", "202a"]  # cached
    directory.on_config_changed("t", config_pb2.ConfigChanged(kind="extension", key="201"))
    directory.on_config_changed("t", config_pb2.ConfigChanged(kind="trunk", key="x"))
    for user in ("201a", "201b", "202a"):
        await directory.account(user)
    assert calls[3:] == ["201a", "201b"]  # only extension 201's accounts were reloaded
    directory.on_config_changed("t", config_pb2.ConfigChanged(kind="account", key="202a"))
    await directory.account("202a")
    assert calls[-1] == "202a"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CENTRALINO_SIP_UDP_PORT", "fivethousand", "expected an integer"),
        ("CENTRALINO_SIP_TCP_PORT", "70000", "must be <= 65535"),
        ("CENTRALINO_REGISTRAR_INTERNAL_SIP", "nohostport", "expected HOST:PORT"),
        ("CENTRALINO_REGISTRAR_MAX_FAILURES", "0", "must be >= 1"),
        ("CENTRALINO_REGISTRAR_RATE", "0", "request_rate must be > 0"),
        ("CENTRALINO_TLS_CERT", "/nonexistent/cert.pem", "set both"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    from centralino.settings import SettingsError
    from centralino_registrar.settings import RegistrarSettings

    with pytest.raises(SettingsError, match=message) as info:
        RegistrarSettings.from_env({variable: value})
    assert info.value.variable.startswith("CENTRALINO_")


def test_default_settings() -> None:
    from centralino.sip.transport import TransportKind
    from centralino_registrar.settings import RegistrarSettings

    s = RegistrarSettings.from_env({})
    assert s.internal == ("127.0.0.1", 5080) and s.router == ("127.0.0.1", 5070)
    assert s.ports[TransportKind.UDP] == 5060 and s.ports[TransportKind.TLS] == 5061
    assert s.md5_only_agents == ("baresip",)

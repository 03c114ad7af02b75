"""Registration decisions without sockets: digest, ACL, transports, expiry, last-wins."""

from __future__ import annotations

import pytest

from centralino.sip.digest import DigestCredentials, build_authorization, ha1, parse_authorization
from centralino.sip.transport.flow import TransportKind
from centralino.v1 import config_pb2, registrar_pb2
from centralino_registrar.auth import Authenticated, Authenticator, AuthRequest, Reject
from centralino_registrar.binding import (
    EVENT_REFRESHED,
    EVENT_REGISTERED,
    EVENT_UNREGISTERED,
    Bind,
    Change,
    ContactEntry,
    ExpiryLimits,
    Query,
    RegisterFacts,
    Unbind,
    apply_plan,
    plan_register,
)
from centralino_registrar.defence import DefencePolicy, Signal, SourceGuard

REALM = "pbx.test"
SIP = config_pb2.SipSettings(realm=REALM, min_expires=60, max_expires=3600, default_expires=600)


def account(**overrides: object) -> config_pb2.Account:
    acc = config_pb2.Account(
        tenant="t1",
        username="alice",
        enabled=True,
        extension_number="201",
        extension_enabled=True,
        secrets=[
            config_pb2.DigestSecret(realm=REALM, algorithm=a, ha1=ha1("alice", REALM, "pw", a))
            for a in ("MD5", "SHA-256")
        ],
    )
    for key, value in overrides.items():
        if isinstance(value, list):
            getattr(acc, key).extend(value)
        else:
            setattr(acc, key, value)
    return acc


def make() -> Authenticator:
    guard = SourceGuard(DefencePolicy(max_failures=3, max_probes=100))
    return Authenticator(b"k" * 32, guard, "default-realm", nonce_ttl=300)


def answer(
    challenge: Reject,
    password: str = "pw",
    method: str = "REGISTER",
    algorithm: str = "MD5",
    username: str = "alice",
    nc: int = 1,
) -> DigestCredentials:
    header = next(v for _, v in challenge.headers if f"algorithm={algorithm}" in v)
    value = build_authorization(
        header,
        method=method,
        uri=f"sip:{REALM}",
        username=username,
        password=password,
        cnonce="abc",
        nc=nc,
    )
    return parse_authorization(value)


def req(
    creds: DigestCredentials | None = None,
    *,
    method: str = "REGISTER",
    source: str = "127.0.0.1",
    transport: TransportKind = TransportKind.UDP,
    username: str = "alice",
    agent: str = "test-phone/1.0",
) -> AuthRequest:
    return AuthRequest(method, username, source, transport, creds, agent)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_reg02_challenge_then_accept(algorithm: str) -> None:
    auth = make()
    first = auth.check(req(), account(), SIP, 100.0)
    assert isinstance(first.outcome, Reject) and first.outcome.status == 401
    assert [v.split("algorithm=")[1].split(",")[0] for _, v in first.outcome.headers] == [
        "MD5",
        "SHA-256",
    ]
    assert first.failures == ()  # the first unauthenticated REGISTER is not a failure
    second = auth.check(req(answer(first.outcome, algorithm=algorithm)), account(), SIP, 101.0)
    assert isinstance(second.outcome, Authenticated)


def test_acc02_invite_gets_407_and_proxy_authenticate() -> None:
    auth = make()
    first = auth.check(req(method="INVITE"), account(), SIP, 1.0)
    assert isinstance(first.outcome, Reject) and first.outcome.status == 407
    assert first.outcome.headers[0][0] == "Proxy-Authenticate"
    ok = auth.check(
        req(answer(first.outcome, method="INVITE"), method="INVITE"), account(), SIP, 2.0
    )
    assert isinstance(ok.outcome, Authenticated)


def test_acc02_wrong_password_is_a_failure_and_a_new_challenge() -> None:
    auth = make()
    first = auth.check(req(), account(), SIP, 1.0)
    assert isinstance(first.outcome, Reject)
    bad = auth.check(req(answer(first.outcome, password="nope")), account(), SIP, 2.0)
    assert isinstance(bad.outcome, Reject) and bad.outcome.status == 401
    assert Signal.AUTH_FAILURE in bad.failures


def test_unknown_user_and_wrong_password_look_identical() -> None:
    auth = make()
    known = auth.check(req(), account(), SIP, 1.0).outcome
    unknown = auth.check(req(username="mallory"), None, SIP, 1.0).outcome
    assert isinstance(known, Reject) and isinstance(unknown, Reject)
    assert (known.status, known.reason, [h for h, _ in known.headers]) == (
        unknown.status,
        unknown.reason,
        [h for h, _ in unknown.headers],
    )
    assert [v.split("nonce=")[0] for _, v in known.headers] == [
        v.split("nonce=")[0] for _, v in unknown.headers
    ]
    wrong = auth.check(req(answer(known, password="x")), account(), SIP, 2.0).outcome
    ghost = auth.check(
        req(answer(unknown, username="mallory"), username="mallory"), None, SIP, 2.0
    ).outcome
    assert isinstance(wrong, Reject) and isinstance(ghost, Reject)
    assert (wrong.status, wrong.reason) == (ghost.status, ghost.reason) == (401, "Unauthorized")


def test_acc11_acl_refuses_before_challenge() -> None:
    auth = make()
    result = auth.check(
        req(source="192.0.2.1"), account(acl_address="127.0.0.0", acl_netmask="255.0.0.0"), SIP, 1.0
    )
    assert isinstance(result.outcome, Reject) and result.outcome.status == 403
    assert result.outcome.headers == ()


def test_acc20_transport_refused_after_authentication() -> None:
    auth = make()
    acc = account(transports=[config_pb2.UDP])
    challenge = auth.check(req(transport=TransportKind.TCP), acc, SIP, 1.0).outcome
    assert isinstance(challenge, Reject) and challenge.status == 401
    refused = auth.check(req(answer(challenge), transport=TransportKind.TCP), acc, SIP, 2.0)
    assert isinstance(refused.outcome, Reject) and refused.outcome.status == 403
    assert "TCP not allowed" in refused.outcome.reason


def test_acc21_transport_disabled_in_sip_settings() -> None:
    auth = make()
    sip = config_pb2.SipSettings(realm=REALM, enabled_transports=[config_pb2.UDP])
    challenge = auth.check(req(transport=TransportKind.TLS), account(), sip, 1.0).outcome
    assert isinstance(challenge, Reject)
    refused = auth.check(req(answer(challenge), transport=TransportKind.TLS), account(), sip, 2.0)
    assert isinstance(refused.outcome, Reject) and "TLS not allowed" in refused.outcome.reason


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"enabled": False}, "account disabled"),
        ({"extension_enabled": False}, "extension disabled"),
    ],
)
def test_acc06_disabled_refused(flags: dict[str, bool], reason: str) -> None:
    auth = make()
    acc = account(**flags)
    challenge = auth.check(req(), acc, SIP, 1.0).outcome
    assert isinstance(challenge, Reject)
    refused = auth.check(req(answer(challenge)), acc, SIP, 2.0).outcome
    assert isinstance(refused, Reject) and refused.status == 403 and reason in refused.reason


def test_stale_nonce_rechallenges_with_stale_true_without_failure() -> None:
    auth = make()
    challenge = auth.check(req(), account(), SIP, 1.0).outcome
    assert isinstance(challenge, Reject)
    late = auth.check(req(answer(challenge)), account(), SIP, 1000.0)
    assert isinstance(late.outcome, Reject) and "stale=true" in late.outcome.headers[0][1]
    assert late.failures == ()


def test_svcrack_style_guessing_gets_the_source_blocked() -> None:
    auth = make()
    blocked = None
    for i in range(3):
        challenge = auth.check(req(), account(), SIP, float(i)).outcome
        assert isinstance(challenge, Reject)
        result = auth.check(req(answer(challenge, password=f"guess{i}")), account(), SIP, float(i))
        blocked = result.blocked or blocked
    assert blocked is not None and blocked.source_ip == "127.0.0.1"


LIMITS = ExpiryLimits.from_settings(SIP)


def facts(
    *contacts: tuple[str, int | None], header: int | None = None, wildcard: bool = False
) -> RegisterFacts:
    return RegisterFacts(tuple(ContactEntry(u, e) for u, e in contacts), wildcard, header)


@pytest.mark.parametrize(
    ("f", "plan"),
    [
        (facts(("sip:a@1.2.3.4", None), header=7200), Bind("sip:a@1.2.3.4", 3600)),  # max
        (facts(("sip:a@1.2.3.4", 120), header=7200), Bind("sip:a@1.2.3.4", 120)),  # param wins
        (facts(("sip:a@1.2.3.4", None)), Bind("sip:a@1.2.3.4", 600)),  # default
        (facts(("sip:a@1.2.3.4", 0)), Unbind(("sip:a@1.2.3.4",))),
        (facts(header=0, wildcard=True), Unbind(None)),
        (facts(), Query()),
        (facts(("sip:old@1.2.3.4", 0), ("sip:new@1.2.3.4", 300)), Bind("sip:new@1.2.3.4", 300)),
    ],
)
def test_reg03_expiry_plans(f: RegisterFacts, plan: object) -> None:
    assert plan_register(f, LIMITS) == plan


@pytest.mark.parametrize(
    ("f", "status"),
    [
        (facts(("sip:a@1.2.3.4", 10)), 423),
        (facts(header=300, wildcard=True), 400),
        (facts(("sip:a@h", 300), ("sip:b@h", 300)), 400),
        (facts(("sip:a@h", -5)), 400),
    ],
)
def test_reg03_refusals(f: RegisterFacts, status: int) -> None:
    result = plan_register(f, LIMITS)
    assert isinstance(result, Reject) and result.status == status
    if status == 423:
        assert result.headers == (("Min-Expires", "60"),)


def loc(
    contact: str, call_id: str = "c1", cseq: int = 1, expires_ms: int = 0
) -> registrar_pb2.Location:
    return registrar_pb2.Location(
        username="alice", contact=contact, call_id=call_id, cseq=cseq, expires_unix_ms=expires_ms
    )


def test_reg06_second_device_replaces_first() -> None:
    now = 1_000_000
    first = apply_plan(Bind("sip:a@d1", 300), None, loc("", "c1", 1), now)
    assert isinstance(first, Change) and first.event == EVENT_REGISTERED and first.store
    second = apply_plan(Bind("sip:b@d2", 300), first.store, loc("", "c2", 1), now + 5)
    assert isinstance(second, Change) and second.event == EVENT_REGISTERED
    assert second.store is not None and second.store.contact == "sip:b@d2"


def test_reg04_refresh_keeps_registration_time_and_extends() -> None:
    now = 1_000_000
    first = apply_plan(Bind("sip:a@d1", 300), None, loc("", "c1", 1), now)
    assert isinstance(first, Change) and first.store is not None
    again = apply_plan(Bind("sip:a@d1", 300), first.store, loc("", "c1", 2), now + 150_000)
    assert isinstance(again, Change) and again.event == EVENT_REFRESHED and again.store
    assert again.store.registered_unix_ms == now
    assert again.store.expires_unix_ms == now + 450_000


def test_unregister_only_removes_own_contact() -> None:
    stored = loc("sip:b@d2", "c2", 1, expires_ms=2_000_000)
    other = apply_plan(Unbind(("sip:a@d1",)), stored, loc("", "c1", 3), 1_000_000)
    assert isinstance(other, Change) and not other.write and other.binding == stored
    own = apply_plan(Unbind(("<sip:b@d2>",)), stored, loc("", "c2", 2), 1_000_000)
    assert isinstance(own, Change) and own.write and own.store is None
    assert own.event == EVENT_UNREGISTERED and own.removed == stored


def test_reg05_expired_binding_counts_as_none() -> None:
    stored = loc("sip:b@d2", expires_ms=999)
    query = apply_plan(Query(), stored, loc(""), 1000)
    assert isinstance(query, Change) and query.binding is None


def test_out_of_order_cseq_refused() -> None:
    stored = loc("sip:b@d2", "c1", 10, expires_ms=2_000_000)
    result = apply_plan(Bind("sip:b@d2", 300), stored, loc("", "c1", 9), 1_000_000)
    assert isinstance(result, Reject) and result.status == 500


def test_replayed_nonce_count_is_a_failure() -> None:
    auth = make()
    challenge = auth.check(req(), account(), SIP, 1.0).outcome
    assert isinstance(challenge, Reject)
    creds = answer(challenge)
    assert isinstance(auth.check(req(creds), account(), SIP, 2.0).outcome, Authenticated)
    replay = auth.check(req(creds), account(), SIP, 3.0)
    assert isinstance(replay.outcome, Reject) and Signal.AUTH_FAILURE in replay.failures
    assert isinstance(
        auth.check(req(answer(challenge, nc=2)), account(), SIP, 4.0).outcome, Authenticated
    )


def test_nonce_from_another_replica_with_the_same_secret() -> None:
    a, b = make(), make()
    challenge = a.check(req(), account(), SIP, 1.0).outcome
    assert isinstance(challenge, Reject)
    assert isinstance(b.check(req(answer(challenge)), account(), SIP, 2.0).outcome, Authenticated)


def test_md5_only_for_user_agents_that_choke_on_sha256() -> None:
    auth = make()
    result = auth.check(req(agent="baresip v1.0.0 (x86_64/linux)"), account(), SIP, 1.0)
    assert isinstance(result.outcome, Reject)
    assert [v for _, v in result.outcome.headers if "SHA-256" in v] == []
    assert len(result.outcome.headers) == 1

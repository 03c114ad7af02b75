"""The sans-IO LDAP connection (FEAT-11, PB-04..PB-07 as seen over LDAP): no sockets."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralino_directory.ldap import Credentials, LdapServerConnection, Limits, PhonebookTree
from centralino_directory.ldap.errors import ResultCode
from centralino_directory.ldap.messages import NOTICE_OF_DISCONNECTION_OID, decode_paged_value
from centralino_directory.phonebook import Contact, DirectoryStore

from . import ldap_pdus as p
from .conftest import ADMIN_DN, ADMIN_PASSWORD, DEMO_BASE, PHONES_DN, PHONES_PASSWORD


def connect(
    store: DirectoryStore,
    credentials: Credentials,
    limits: Limits | None = None,
    clock: object = None,
) -> LdapServerConnection:
    kw = {} if clock is None else {"clock": clock}
    return LdapServerConnection(PhonebookTree(store), credentials, limits, **kw)  # type: ignore[arg-type]


def ask(conn: LdapServerConnection, pdu: bytes) -> list[Any]:
    return p.split(conn.receive_data(pdu))


def test_feat11_pb05_pb06_pb07_pb04_published_numbers_over_ldap(
    store: DirectoryStore, credentials: Credentials
) -> None:
    conn = connect(store, credentials)
    found = p.entries(ask(conn, p.search(1, DEMO_BASE, "(objectClass=inetOrgPerson)", scope=1)))
    numbers = {dn.split(",")[0]: attrs.get("telephoneNumber") for dn, attrs in found.items()}
    assert numbers == {
        "uid=ext-201": ["+39 02 5555 201"],  # PB-05: the rule on its own number
        "uid=ext-202": ["0298765"],  # PB-06: the custom number
        "uid=ext-204": ["+39 02 5555 200"],  # PB-07: the rule on the custom extension
        "uid=local-1": ["02-1234-5678"],  # the local phonebook
    }  # PB-04: ext-203 (disabled) is absent


def test_phone_lookup_filter_or_of_substrings(
    store: DirectoryStore, credentials: Credentials
) -> None:
    conn = connect(store, credentials)
    # What a Yealink/Snom phonebook lookup sends while the user types "smi".
    found = p.entries(
        ask(
            conn,
            p.search(
                1,
                DEMO_BASE,
                "(|(cn=*smi*)(telephoneNumber=*smi*))",
                attributes=["cn", "telephoneNumber"],
            ),
        )
    )
    assert sorted(a["cn"][0] for a in found.values()) == ["John Smith", "Marco Smithers"]
    assert all(set(a) == {"cn", "telephoneNumber"} for a in found.values())
    # Number lookup ignores the spaces and dashes of telephoneNumberMatch.
    found = p.entries(ask(conn, p.search(2, DEMO_BASE, "(telephoneNumber=*12345678)")))
    assert [a["cn"] for a in found.values()] == [["Pizzeria Da Mario"]]


@pytest.mark.parametrize(
    ("search_filter", "expected"),
    [
        ("(sn=smith)", ["ext-201"]),
        ("(cn=John*)", ["ext-201"]),
        ("(cn=*ers)", ["ext-204"]),
        ("(cn=J*n S*h)", ["ext-201"]),
        ("(mail=*)", ["ext-201"]),
        ("(&(objectClass=person)(o=ACME))", ["ext-201"]),
        ("(organization=ACME)", ["ext-201"]),  # PB-09: the manual's spelling works too
        ("(organizationUnit=sales)", ["ext-201"]),  # PB-10
        ("(!(uid=ext-2*))", ["local-1"]),
        ("(&(uid=*)(!(telephoneNumber=*5555*)))", ["ext-202", "local-1"]),
        ("(|(givenName=anna)(mobile=+39333*))", ["ext-201", "ext-202"]),
        ("(uid>=ext-204)", ["ext-204", "local-1"]),
        ("(uid<=ext-201)", ["ext-201"]),
        ("(cn~=john smith)", ["ext-201"]),
        ("(cn:caseExactMatch:=John Smith)", []),  # extensible: Undefined
        ("(!(cn:caseExactMatch:=John Smith))", []),  # NOT Undefined is Undefined
        ("(nosuchattribute=x)", []),
    ],
)
def test_filter_forms(
    store: DirectoryStore, credentials: Credentials, search_filter: str, expected: list[str]
) -> None:
    conn = connect(store, credentials)
    found = p.entries(ask(conn, p.search(1, DEMO_BASE, search_filter, scope=1)))
    assert sorted(dn.split(",")[0].removeprefix("uid=") for dn in found) == expected


def test_scopes_and_missing_base(store: DirectoryStore, credentials: Credentials) -> None:
    conn = connect(store, credentials)
    base = p.entries(ask(conn, p.search(1, DEMO_BASE, scope=0)))
    assert list(base) == [DEMO_BASE]
    one = p.entries(ask(conn, p.search(2, "o=demo,dc=centralino", scope=1)))
    assert list(one) == [DEMO_BASE]
    sub = p.entries(ask(conn, p.search(3, "dc=centralino", scope=2)))
    assert "o=other,dc=centralino" in sub and len(sub) == 1 + 2 * 2 + 4 + 1
    missing = ask(conn, p.search(4, "uid=nobody," + DEMO_BASE))
    assert p.result_code(missing) == ResultCode.NO_SUCH_OBJECT
    assert str(p.op(missing[-1])[1]["matchedDN"]) == DEMO_BASE
    bad = ask(conn, p.search(5, "not a dn"))
    assert p.result_code(bad) == ResultCode.INVALID_DN_SYNTAX


def test_root_dse_advertises_naming_context_and_paged_results(
    store: DirectoryStore, credentials: Credentials
) -> None:
    conn = connect(store, credentials)
    dse = p.entries(ask(conn, p.search(1, "", scope=0, attributes=["+"])))[""]
    assert dse["namingContexts"] == ["dc=centralino"]
    assert "1.2.840.113556.1.4.319" in dse["supportedControl"]


def test_bind_rules_and_tenant_isolation(store: DirectoryStore, credentials: Credentials) -> None:
    conn = connect(store, credentials)
    assert p.result_code(ask(conn, p.bind(1))) == ResultCode.SUCCESS  # anonymous
    assert p.result_code(ask(conn, p.bind(2, PHONES_DN, "wrong"))) == ResultCode.INVALID_CREDENTIALS
    assert (
        p.result_code(ask(conn, p.bind(3, "cn=ghost,dc=centralino", "x")))
        == ResultCode.INVALID_CREDENTIALS
    )
    assert p.result_code(ask(conn, p.bind(4, PHONES_DN, ""))) == ResultCode.UNWILLING_TO_PERFORM
    assert p.result_code(ask(conn, p.bind(5, PHONES_DN, PHONES_PASSWORD))) == ResultCode.SUCCESS
    # A user of tenant demo does not see tenant other, not even that it exists.
    other = ask(conn, p.search(6, "o=other,dc=centralino"))
    assert p.result_code(other) == ResultCode.NO_SUCH_OBJECT
    assert p.result_code(ask(conn, p.bind(7, ADMIN_DN, ADMIN_PASSWORD))) == ResultCode.SUCCESS
    assert p.entries(ask(conn, p.search(8, "o=other,dc=centralino", "(sn=smirnova)")))


def test_anonymous_access_can_be_disabled(store: DirectoryStore) -> None:
    conn = connect(store, Credentials([], allow_anonymous=False))
    assert p.result_code(ask(conn, p.bind(1))) == ResultCode.INAPPROPRIATE_AUTHENTICATION
    refused = ask(conn, p.search(2, DEMO_BASE))
    assert p.result_code(refused) == ResultCode.INSUFFICIENT_ACCESS_RIGHTS
    # A subtree search from the empty base is refused too...
    everything = ask(conn, p.search(3, "", scope=2))
    assert p.result_code(everything) == ResultCode.INSUFFICIENT_ACCESS_RIGHTS
    assert p.entries(everything) == {}
    # ...but the root DSE stays readable so clients can discover the server.
    assert p.result_code(ask(conn, p.search(4, "", scope=0))) == ResultCode.SUCCESS


def test_size_limit_client_and_server(store: DirectoryStore, credentials: Credentials) -> None:
    conn = connect(store, credentials, Limits(max_size=3))
    replies = ask(conn, p.search(1, DEMO_BASE, "(uid=*)", size_limit=2))
    assert len(p.entries(replies)) == 2
    assert p.result_code(replies) == ResultCode.SIZE_LIMIT_EXCEEDED
    replies = ask(conn, p.search(2, DEMO_BASE, "(uid=*)"))  # server cap applies
    assert len(p.entries(replies)) == 3
    assert p.result_code(replies) == ResultCode.SIZE_LIMIT_EXCEEDED
    replies = ask(conn, p.search(3, DEMO_BASE, "(uid=ext-201)", size_limit=1))
    assert p.result_code(replies) == ResultCode.SUCCESS


def test_time_limit_uses_the_injected_clock(credentials: Credentials) -> None:
    store = DirectoryStore()
    store.replace_contacts(
        "demo",
        "local",
        [Contact(id=f"c{i}", source="local", display_name=f"C {i}") for i in range(500)],
    )
    ticks = itertools.count()
    conn = connect(store, credentials, clock=lambda: float(next(ticks)))
    replies = ask(conn, p.search(1, DEMO_BASE, "(uid=*)", time_limit=2))
    assert p.result_code(replies) == ResultCode.TIME_LIMIT_EXCEEDED
    assert 0 < len(p.entries(replies)) < 500


def test_paged_results(store: DirectoryStore, credentials: Credentials) -> None:
    conn = connect(store, credentials)
    seen: list[str] = []
    cookie = b""
    for message_id in range(1, 10):
        replies = ask(conn, p.search(message_id, DEMO_BASE, "(uid=*)", page=(3, cookie)))
        seen += p.entries(replies)
        done = p.op(replies[-1])[1]
        assert int(done["resultCode"]) == 0
        control = replies[-1]["controls"][0]
        _, cookie = decode_paged_value(bytes(control["controlValue"]))
        if not cookie:
            break
    assert len(seen) == len(set(seen)) == 4
    # A stale cookie is refused, not answered from scratch.
    stale = ask(conn, p.search(20, DEMO_BASE, "(uid=*)", page=(3, b"999")))
    assert p.result_code(stale) == ResultCode.UNWILLING_TO_PERFORM


def test_unknown_critical_control_and_write_operations_refused(
    store: DirectoryStore, credentials: Credentials
) -> None:
    from ldap3.operation.delete import delete_operation

    conn = connect(store, credentials)
    replies = ask(conn, p.search(1, DEMO_BASE, critical=["1.2.3.4"]))
    assert p.result_code(replies) == ResultCode.UNAVAILABLE_CRITICAL_EXTENSION
    replies = ask(conn, p.message(2, "delRequest", delete_operation("uid=ext-201," + DEMO_BASE)))
    assert p.op(replies[0])[0] == "delResponse"
    assert p.result_code(replies) == ResultCode.UNWILLING_TO_PERFORM
    assert store.ldap_contacts("demo")[0].id == "ext-201"


def test_pdus_split_across_reads_and_pipelined(
    store: DirectoryStore, credentials: Credentials
) -> None:
    conn = connect(store, credentials)
    stream = p.bind(1, PHONES_DN, PHONES_PASSWORD) + p.search(2, DEMO_BASE, "(sn=rossi)")
    out = b"".join(conn.receive_data(stream[i : i + 1]) for i in range(len(stream)))
    replies = p.split(out)
    assert [p.op(r)[0] for r in replies] == ["bindResponse", "searchResEntry", "searchResDone"]
    assert conn.receive_data(p.unbind(3)) == b"" and conn.closed


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x04\x03abc",  # not a SEQUENCE
        b"\x30\x80\x02\x01\x01\x00\x00",  # indefinite length
        b"\x30\x85\x01\x02\x03\x04\x05",  # absurd length of length
        b"\x30\x84\x7f\xff\xff\xff",  # over the PDU limit
        b"\x30\x03\x02\x01\x01",  # no operation
        b"\x30\x06\x02\x01\x01\x42\x01\x00",  # unbind with content? (NULL must be empty)
        b"\x30\x05\x02\x01\x00\x60\x00",  # messageID 0
        b"\x30\x07\x02\x01\x01\x61\x02\x0a\x00",  # a response sent by the client
    ],
)
def test_malformed_pdu_gets_notice_of_disconnection(
    store: DirectoryStore, credentials: Credentials, garbage: bytes
) -> None:
    conn = connect(store, credentials)
    replies = p.split(conn.receive_data(garbage))
    assert conn.closed
    assert len(replies) == 1 and int(replies[0]["messageID"]) == 0
    name, body = p.op(replies[0])
    assert name == "extendedResp"
    assert str(body["responseName"]) == NOTICE_OF_DISCONNECTION_OID
    assert int(body["resultCode"]) == ResultCode.PROTOCOL_ERROR
    assert conn.receive_data(p.bind(1)) == b""


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_never_crash(data: bytes) -> None:
    store = DirectoryStore()
    conn = LdapServerConnection(PhonebookTree(store), Credentials())
    out = conn.receive_data(data)
    assert isinstance(out, bytes)
    if conn.closed and out:
        p.split(out)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_fuzz_mutated_search_never_crashes(position: int, value: int) -> None:
    store = DirectoryStore()
    conn = LdapServerConnection(PhonebookTree(store), Credentials())
    pdu = bytearray(p.search(1, DEMO_BASE, "(|(cn=*a*)(!(sn=b)))", attributes=["cn"]))
    pdu[position % len(pdu)] = value
    p.split(conn.receive_data(bytes(pdu)))

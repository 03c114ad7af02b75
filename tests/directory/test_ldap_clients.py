"""FEAT-11 with real clients: OpenLDAP's ldapsearch and the ldap3 client against the
running LDAP server on loopback."""

from __future__ import annotations

import asyncio
import shutil

import ldap3
import pytest
from ldap3.core.exceptions import LDAPInvalidCredentialsResult

from centralino_directory.ldap import Credentials, LdapServer, PhonebookTree
from centralino_directory.phonebook import DirectoryStore

from .conftest import DEMO_BASE, PHONES_DN, PHONES_PASSWORD

needs_ldapsearch = pytest.mark.skipif(
    shutil.which("ldapsearch") is None, reason="ldapsearch (ldap-utils) not installed"
)


async def ldapsearch(port: int, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "ldapsearch",
        "-x",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-H",
        f"ldap://127.0.0.1:{port}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def records(ldif: str) -> list[dict[str, list[str]]]:
    out: list[dict[str, list[str]]] = []
    for block in ldif.strip().split("\n\n"):
        rec: dict[str, list[str]] = {}
        for line in block.splitlines():
            if line.startswith("#") or ": " not in line:
                continue
            key, value = line.split(": ", 1)
            rec.setdefault(key, []).append(value)
        if "dn" in rec:
            out.append(rec)
    return out


@needs_ldapsearch
async def test_feat11_ldapsearch_anonymous_phone_lookup(ldap_port: int) -> None:
    rc, out = await ldapsearch(
        ldap_port, "-b", DEMO_BASE, "(|(cn=*smi*)(telephoneNumber=*smi*))", "cn", "telephoneNumber"
    )
    assert rc == 0, out
    got = {r["cn"][0]: r["telephoneNumber"][0] for r in records(out)}
    assert got == {"John Smith": "+39 02 5555 201", "Marco Smithers": "+39 02 5555 200"}


@needs_ldapsearch
async def test_feat11_pb09_pb10_ldapsearch_bound_full_entry(ldap_port: int) -> None:
    rc, out = await ldapsearch(
        ldap_port,
        "-D",
        PHONES_DN,
        "-w",
        PHONES_PASSWORD,
        "-b",
        DEMO_BASE,
        "-s",
        "one",
        "(sn=Smith)",
    )
    assert rc == 0, out
    [entry] = records(out)
    assert entry["dn"] == ["uid=ext-201," + DEMO_BASE]
    assert entry["givenName"] == ["John"] and entry["mail"] == ["john.smith@example.com"]
    assert entry["mobile"] == ["+39 333 1234567"]
    assert entry["o"] == ["ACME"] and entry["ou"] == ["Sales"]
    assert "inetOrgPerson" in entry["objectClass"]


@needs_ldapsearch
async def test_ldapsearch_paged_size_limit_and_bad_password(ldap_port: int) -> None:
    rc, out = await ldapsearch(
        ldap_port, "-b", DEMO_BASE, "-E", "pr=2/noprompt", "(objectClass=inetOrgPerson)", "uid"
    )
    assert rc == 0, out
    assert len(records(out)) == 4
    assert out.count("# pagedresults:") == 2
    rc, out = await ldapsearch(ldap_port, "-b", DEMO_BASE, "-z", "1", "(uid=*)", "uid")
    assert rc == 4 and len(records(out)) == 1  # sizeLimitExceeded
    rc, out = await ldapsearch(ldap_port, "-D", PHONES_DN, "-w", "nope", "-b", DEMO_BASE)
    assert rc == 49, out  # invalidCredentials
    rc, out = await ldapsearch(ldap_port, "-b", "o=nowhere,dc=centralino")
    assert rc == 32, out  # noSuchObject


async def test_feat11_ldap3_client_search_and_paging(ldap_port: int) -> None:
    def run() -> tuple[list[str], list[str], int]:
        server = ldap3.Server("127.0.0.1", port=ldap_port, get_info=ldap3.ALL)
        with ldap3.Connection(server, PHONES_DN, PHONES_PASSWORD, auto_bind=True) as conn:
            assert server.info is not None and "dc=centralino" in server.info.naming_contexts
            conn.search(
                DEMO_BASE,
                "(&(objectClass=inetOrgPerson)(|(givenName=anna)(o=acme)))",
                attributes=["cn", "telephoneNumber"],
            )
            names = sorted(str(e.cn) for e in conn.entries)
            pages = conn.extend.standard.paged_search(
                DEMO_BASE, "(uid=*)", attributes=["uid"], paged_size=1, generator=False
            )
            uids = sorted(str(e["attributes"]["uid"][0]) for e in pages)
            who = conn.extend.standard.who_am_i()
        return names, uids, len(str(who))

    names, uids, who_len = await asyncio.to_thread(run)
    assert names == ["Anna Rossi", "John Smith"]
    assert uids == ["ext-201", "ext-202", "ext-204", "local-1"]
    assert who_len > 0


async def test_ldap3_client_wrong_password_and_read_only(ldap_port: int) -> None:
    def run() -> str:
        server = ldap3.Server("127.0.0.1", port=ldap_port)
        with pytest.raises(LDAPInvalidCredentialsResult):
            ldap3.Connection(server, PHONES_DN, "bad", auto_bind=True, raise_exceptions=True)
        with ldap3.Connection(server, PHONES_DN, PHONES_PASSWORD, auto_bind=True) as conn:
            conn.modify("uid=ext-201," + DEMO_BASE, {"cn": [(ldap3.MODIFY_REPLACE, ["X"])]})
            return str(conn.result["description"])

    assert await asyncio.to_thread(run) == "unwillingToPerform"


async def test_garbage_on_the_socket_closes_cleanly_and_server_keeps_serving(
    ldap_port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", ldap_port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 5)  # server answers, then closes: EOF
    assert b"1.3.6.1.4.1.1466.20036" in reply
    writer.close()
    await writer.wait_closed()

    def run() -> int:
        with ldap3.Connection(ldap3.Server("127.0.0.1", port=ldap_port), auto_bind=True) as conn:
            conn.search(DEMO_BASE, "(uid=*)")
            return len(conn.entries)

    assert await asyncio.to_thread(run) == 4


async def test_connections_over_the_limit_are_closed(
    store: DirectoryStore, credentials: Credentials
) -> None:
    server = LdapServer(PhonebookTree(store), credentials, max_clients=1)
    port = await server.start("127.0.0.1", 0)
    try:
        _, first = await asyncio.open_connection("127.0.0.1", port)
        # The first connection is being served; its handler is registered on accept.
        reader, second = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        second.close()
        first.close()
    finally:
        await server.stop()

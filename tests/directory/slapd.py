"""A throw-away OpenLDAP slapd for the import tests: slapd.conf + mdb in a temp folder,
plain LDAP and LDAPS (self-signed certificate) on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from centralino.runner.embedded import free_port
from centralino.runner.tls import self_signed

SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "admin-pw"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PW = "reader-pw"
PEOPLE = f"ou=people,{SUFFIX}"

SEED_LDIF = f"""dn: {SUFFIX}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {READER_DN}
objectClass: simpleSecurityObject
objectClass: organizationalRole
cn: reader
userPassword: {READER_PW}

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
uid: alice
cn: Alice Archer
givenName: Alice
sn: Archer
telephoneNumber: +39 02 1111
mail: alice@example.com
o: Example
ou: Finance

dn: uid=bob,{PEOPLE}
objectClass: inetOrgPerson
uid: bob
cn: Bob Baker
sn: Baker
telephoneNumber: +39 02 2222
mobile: +39 333 2222

dn: uid=nonumber,{PEOPLE}
objectClass: inetOrgPerson
uid: nonumber
cn: No Number
sn: Number
"""


@dataclass
class Slapd:
    folder: Path
    port: int
    tls_port: int
    ca_file: Path
    proc_pid: int = 0

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def start(self) -> None:
        db = self.folder / "db"
        db.mkdir(parents=True)
        cert, key = self_signed(["127.0.0.1", "localhost"])
        (self.folder / "cert.pem").write_bytes(cert)
        (self.folder / "key.pem").write_bytes(key)
        self.ca_file.write_bytes(cert)
        conf = self.folder / "slapd.conf"
        conf.write_text(
            "\n".join(
                [
                    "include /etc/ldap/schema/core.schema",
                    "include /etc/ldap/schema/cosine.schema",
                    "include /etc/ldap/schema/inetorgperson.schema",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    f"pidfile {self.folder}/slapd.pid",
                    f"TLSCertificateFile {self.folder}/cert.pem",
                    f"TLSCertificateKeyFile {self.folder}/key.pem",
                    "database mdb",
                    f'suffix "{SUFFIX}"',
                    f'rootdn "{ROOT_DN}"',
                    f"rootpw {ROOT_PW}",
                    f"directory {db}",
                    "maxsize 16777216",
                    "access to attrs=userPassword by anonymous auth by * none",
                    "access to * by * read",
                    "",
                ]
            )
        )
        seed = self.folder / "seed.ldif"
        seed.write_text(SEED_LDIF)
        subprocess.run(
            ["slapadd", "-f", str(conf), "-l", str(seed)], check=True, capture_output=True
        )
        # Without -d slapd opens its listeners, then detaches: once this returns, it answers.
        listen = f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/"
        subprocess.run(
            ["slapd", "-f", str(conf), "-h", listen], check=True, capture_output=True, timeout=30
        )

    def stop(self) -> None:
        pidfile = self.folder / "slapd.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def make(folder: Path) -> Slapd:
    return Slapd(folder, free_port(), free_port(), folder / "ca.pem")

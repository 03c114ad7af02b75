"""The whole PBX as one object: embedded infrastructure plus every service, supervised."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from centralino.runner.embedded import EmbeddedNats, EmbeddedPostgres
from centralino.runner.layout import SERVICES, Layout
from centralino.runner.supervisor import Child, ChildError, python_module_argv, wait_healthy
from centralino.runner.tls import ensure_self_signed

log = logging.getLogger("centralino.runner")

DEMO_TENANT = "demo"
DEMO_FIRST, DEMO_LAST = 200, 209


class SuiteError(RuntimeError):
    """The suite could not start."""


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Secrets generated once per data folder and reused on every start."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    changed = False
    defaults = {
        "CENTRALINO_SECRET_KEY": lambda: secrets.token_urlsafe(32),
        "CENTRALINO_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
        "CENTRALINO_SERIAL": lambda: "CTL-" + secrets.token_hex(6).upper(),
    }
    for key, make in defaults.items():
        if key not in values:
            values[key] = make()
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


@dataclass
class DemoAccount:
    username: str
    password: str


@dataclass
class Suite:
    data_dir: Path
    layout: Layout
    demo: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    on_event: Callable[[str], None] = print
    services: tuple[str, ...] = tuple(SERVICES)
    startup_timeout: float = 90.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.children: dict[str, Child] = {}
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.nats_url = ""
        self.database_url = ""
        self.admin_password = ""
        self.demo_accounts: list[DemoAccount] = []
        self.env: dict[str, str] = {}

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "demo-credentials.txt"

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stored = load_or_create_secrets(self.data_dir / "secrets.env")
        env = dict(self.environ)
        for key, value in stored.items():
            env.setdefault(key, value)
        self.admin_password = env["CENTRALINO_ADMIN_PASSWORD"]

        self.nats_url = env.get("NATS_URL", "")
        if not self.nats_url:
            self.on_event("starting embedded NATS (JetStream)...")
            self.nats = EmbeddedNats(self.data_dir / "nats", self.layout.nats_port)
            await asyncio.to_thread(self.nats.start)
            self.nats_url = self.nats.url
        self.database_url = env.get("DATABASE_URL", "")
        if not self.database_url:
            self.on_event("starting embedded PostgreSQL...")
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", self.layout.postgres_port)
            await asyncio.to_thread(self.postgres.start)
            self.database_url = self.postgres.url

        tls_dir = self.data_dir / "tls"
        cert_path, key_path = tls_dir / "sip-cert.pem", tls_dir / "sip-key.pem"
        env.setdefault("CENTRALINO_TLS_CERT", str(cert_path))
        env.setdefault("CENTRALINO_TLS_KEY", str(key_path))
        if ensure_self_signed(cert_path, key_path, [self.layout.advertised_host, "localhost"]):
            self.on_event(f"generated a self-signed SIP TLS certificate: {cert_path}")

        env.update(self.layout.service_env())
        env.update(NATS_URL=self.nats_url, DATABASE_URL=self.database_url)
        env.setdefault("CENTRALINO_LOG_FORMAT", "json")
        self.env = env

        first, *rest = [s for s in self.services]
        await self._start_services([first])
        if self.demo:
            await self._seed_demo()
        await self._start_services(rest)

    async def _start_services(self, names: list[str]) -> None:
        for name in names:
            child = Child(
                name,
                python_module_argv(SERVICES[name]),
                self.env,
                self.data_dir / "logs" / f"{name}.log",
                self.on_event,
            )
            self.children[name] = child
            await child.start()
        await asyncio.gather(
            *(
                wait_healthy(
                    name,
                    f"127.0.0.1:{self.layout.grpc[name]}",
                    self.children[name],
                    self.startup_timeout,
                )
                for name in names
            )
        )
        for name in names:
            self.on_event(f"{name} is up (gRPC 127.0.0.1:{self.layout.grpc[name]})")

    async def _seed_demo(self) -> None:
        argv = python_module_argv(
            SERVICES["config-api"],
            "seed-demo",
            "--tenant",
            DEMO_TENANT,
            "--first",
            str(DEMO_FIRST),
            "--last",
            str(DEMO_LAST),
            "--credentials",
            str(self.credentials_path),
        )
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), self.startup_timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SuiteError(
                f"seeding the demo tenant did not finish within {self.startup_timeout:.0f}s"
            ) from None
        if proc.returncode != 0:
            raise SuiteError(f"seeding the demo tenant failed: {err.decode(errors='replace')}")
        self.demo_accounts = [
            DemoAccount(*line.split()[:2])
            for line in self.credentials_path.read_text().splitlines()
            if len(line.split()) >= 2 and not line.startswith("#")
        ]

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in reversed(list(self.children.values()))))
        self.children.clear()
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)
            self.postgres = None
        if self.nats is not None:
            await asyncio.to_thread(self.nats.stop)
            self.nats = None

    def banner(self) -> str:
        lay = self.layout
        host = lay.advertised_host
        lines = [
            "",
            "Centralino is up.",
            f"  SIP       udp:{host}:{lay.sip_udp}  tcp:{host}:{lay.sip_tcp}  "
            f"tls:{host}:{lay.sip_tls}",
            f"            ws://{host}:{lay.sip_ws}  wss://{host}:{lay.sip_wss}",
            f"  Admin API http://{host}:{lay.api_port}/api/v1  "
            f"(OpenAPI: http://{host}:{lay.api_port}/api/v1/openapi.json)",
            f"  Admin     user 'admin', password '{self.admin_password}'",
            f"  LDAP      ldap://{host}:{lay.ldap_port}   SNMP udp:{host}:{lay.snmp_port}",
            f"  Data      {self.data_dir} (logs in {self.data_dir / 'logs'})",
        ]
        if self.demo_accounts:
            lines.append(f"  Demo tenant '{DEMO_TENANT}' (also in {self.credentials_path}):")
            lines += [
                f"    extension {a.username}: username {a.username} password {a.password}"
                for a in self.demo_accounts
            ]
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)


__all__ = ["ChildError", "Suite", "SuiteError", "load_or_create_secrets"]

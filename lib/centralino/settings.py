"""12-factor settings: every service reads its configuration from the environment.

Each service declares a frozen dataclass of its own settings and builds it with the
``env_*`` readers below; a malformed value raises :class:`SettingsError` naming the
variable and what it expects, so a bad deployment fails at start with a fix in the message.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field


class SettingsError(ValueError):
    """A setting from the environment is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def env_str(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(name, default)


def env_int(
    name: str,
    default: int,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = env_str(name, str(default), environ)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(name, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(name, f"must be <= {maximum}, got {value}")
    return value


def env_float(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    raw = env_str(name, str(default), environ)
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(name, f"expected a number, got {raw!r}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    raw = env_str(name, "true" if default else "false", environ).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(name, f"expected true/false, got {raw!r}")


def env_hostport(
    name: str, default: str, environ: Mapping[str, str] | None = None
) -> tuple[str, int]:
    raw = env_str(name, default, environ)
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit():
        raise SettingsError(name, f"expected HOST:PORT, got {raw!r}")
    return host.strip("[]"), int(port)


def env_peer(name: str, default: str, environ: Mapping[str, str] | None = None) -> tuple[str, int]:
    """A peer's HOST:PORT with the host resolved to an address once, at start.

    SIP between our services is sent to IP addresses; a name (a compose service, a
    Kubernetes Service) is resolved here so a wrong one fails at start, naming the variable.
    """
    host, port = env_hostport(name, default, environ)
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise SettingsError(name, f"cannot resolve {host!r}: {exc}") from None
    return str(infos[0][4][0]), port


# Default gRPC addresses of every service; each can be overridden with
# CENTRALINO_<SERVICE>_GRPC (e.g. CENTRALINO_CONFIG_GRPC=config-api:50051 in Kubernetes).
DEFAULT_GRPC_PORTS: dict[str, int] = {
    "config-api": 50051,
    "registrar": 50052,
    "router": 50053,
    "media": 50054,
    "licensing": 50055,
    "directory": 50056,
}


def grpc_env_name(service: str) -> str:
    return "CENTRALINO_" + service.upper().replace("-", "_").removesuffix("_API") + "_GRPC"


def grpc_address(service: str, environ: Mapping[str, str] | None = None) -> str:
    """Where to reach ``service``'s gRPC server."""
    default = f"127.0.0.1:{DEFAULT_GRPC_PORTS[service]}"
    return env_str(grpc_env_name(service), default, environ)


@dataclass(frozen=True, slots=True)
class CommonSettings:
    """What every service needs: the bus, its own gRPC listener, its identity."""

    service: str
    nats_url: str
    grpc_listen: str
    instance_id: str
    log_level: str
    log_format: str
    heartbeat_seconds: float
    environ: Mapping[str, str] = field(repr=False, default_factory=dict)

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> CommonSettings:
        env = dict(os.environ if environ is None else environ)
        own = grpc_address(service, env)
        port = own.rpartition(":")[2]
        return cls(
            service=service,
            nats_url=env_str("NATS_URL", "nats://127.0.0.1:4222", env),
            grpc_listen=env_str("CENTRALINO_GRPC_LISTEN", f"127.0.0.1:{port}", env),
            instance_id=env_str(
                "CENTRALINO_INSTANCE_ID",
                f"{service}-{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
                env,
            ),
            log_level=env_str("CENTRALINO_LOG_LEVEL", "INFO", env).upper(),
            log_format=env_str("CENTRALINO_LOG_FORMAT", "json", env),
            heartbeat_seconds=env_float("CENTRALINO_HEARTBEAT_SECONDS", 5.0, env),
            environ=env,
        )

    def grpc_address(self, service: str) -> str:
        return grpc_address(service, self.environ)


def database_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "")
    if not url:
        raise SettingsError(
            "DATABASE_URL", "not set; point it at PostgreSQL, e.g. postgresql://user:pw@host/db"
        )
    return url

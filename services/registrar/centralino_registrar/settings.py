"""The registrar's settings, read from the environment (see the README's configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from centralino.settings import (
    SettingsError,
    env_float,
    env_int,
    env_peer,
    env_str,
)
from centralino.sip.transport.flow import TransportKind
from centralino_registrar.defence import DEFAULT_SCANNER_AGENTS, DefencePolicy

_PORT_VARIABLES = {
    TransportKind.UDP: ("CENTRALINO_SIP_UDP_PORT", 5060),
    TransportKind.TCP: ("CENTRALINO_SIP_TCP_PORT", 5060),
    TransportKind.TLS: ("CENTRALINO_SIP_TLS_PORT", 5061),
    TransportKind.WS: ("CENTRALINO_SIP_WS_PORT", 8088),
    TransportKind.WSS: ("CENTRALINO_SIP_WSS_PORT", 8089),
}


@dataclass(frozen=True, slots=True)
class RegistrarSettings:
    sip_host: str
    advertised_host: str
    #: listening port per transport; 0 asks for a free port, a negative one disables it
    ports: Mapping[TransportKind, int]
    tls_cert: str
    tls_key: str
    internal: tuple[str, int]
    router: tuple[str, int]
    default_realm: str
    nonce_secret: str
    nonce_lifetime: float
    keepalive_seconds: float
    md5_only_agents: tuple[str, ...]
    defence: DefencePolicy

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegistrarSettings:
        ports = {
            kind: env_int(name, default, env, minimum=-1, maximum=65535)
            for kind, (name, default) in _PORT_VARIABLES.items()
        }
        tls_cert = env_str("CENTRALINO_TLS_CERT", "", env)
        tls_key = env_str("CENTRALINO_TLS_KEY", "", env)
        if bool(tls_cert) != bool(tls_key):
            raise SettingsError("CENTRALINO_TLS_KEY", "set both CENTRALINO_TLS_CERT and _KEY")
        agents = env_str(
            "CENTRALINO_REGISTRAR_SCANNER_AGENTS", ",".join(DEFAULT_SCANNER_AGENTS), env
        )
        try:
            defence = DefencePolicy(
                request_rate=env_float("CENTRALINO_REGISTRAR_RATE", 50.0, env),
                request_burst=env_float("CENTRALINO_REGISTRAR_BURST", 200.0, env),
                max_failures=env_int("CENTRALINO_REGISTRAR_MAX_FAILURES", 5, env, minimum=1),
                max_probes=env_int("CENTRALINO_REGISTRAR_MAX_PROBES", 10, env, minimum=0),
                window=env_float("CENTRALINO_REGISTRAR_FAILURE_WINDOW", 60.0, env),
                block_seconds=env_float("CENTRALINO_REGISTRAR_BLOCK_SECONDS", 600.0, env),
                scanner_agents=tuple(a.strip() for a in agents.split(",") if a.strip()),
            )
        except ValueError as exc:
            raise SettingsError("CENTRALINO_REGISTRAR_RATE", str(exc)) from None
        return cls(
            sip_host=env_str("CENTRALINO_SIP_HOST", "0.0.0.0", env),
            advertised_host=env_str("CENTRALINO_SIP_ADVERTISED_HOST", "127.0.0.1", env),
            ports=ports,
            tls_cert=tls_cert,
            tls_key=tls_key,
            internal=env_peer("CENTRALINO_REGISTRAR_INTERNAL_SIP", "127.0.0.1:5080", env),
            router=env_peer("CENTRALINO_ROUTER_SIP", "127.0.0.1:5070", env),
            default_realm=env_str("CENTRALINO_SIP_REALM", "centralino", env),
            nonce_secret=env_str("CENTRALINO_REGISTRAR_NONCE_SECRET", "", env),
            nonce_lifetime=env_float("CENTRALINO_REGISTRAR_NONCE_LIFETIME", 300.0, env),
            keepalive_seconds=env_float("CENTRALINO_REGISTRAR_KEEPALIVE_SECONDS", 30.0, env),
            md5_only_agents=tuple(
                a.strip()
                for a in env_str("CENTRALINO_REGISTRAR_MD5_ONLY_AGENTS", "baresip", env).split(",")
                if a.strip()
            ),
            defence=defence,
        )

"""Where everything listens when the suite runs on one machine, and how to override it.

Every address comes from an environment variable with a documented default, so the
same services run on a laptop, in compose, or in Kubernetes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from centralino.runner.embedded import free_port
from centralino.settings import (
    DEFAULT_GRPC_PORTS,
    env_hostport,
    env_int,
    env_str,
    grpc_env_name,
)

#: service name -> module run with ``python -m``; config-api first, it owns the schema
SERVICES: dict[str, str] = {
    "config-api": "centralino_config_api",
    "licensing": "centralino_licensing",
    "media": "centralino_media",
    "registrar": "centralino_registrar",
    "router": "centralino_router",
    "directory": "centralino_directory",
}


@dataclass
class Layout:
    sip_host: str = "0.0.0.0"
    advertised_host: str = "127.0.0.1"
    sip_udp: int = 5060
    sip_tcp: int = 5060
    sip_tls: int = 5061
    sip_ws: int = 8088
    sip_wss: int = 8089
    api_host: str = "0.0.0.0"
    api_port: int = 8080
    ldap_port: int = 1389
    snmp_port: int = 1161
    rtp_min: int = 20000
    rtp_max: int = 29999
    router_sip: int = 5070  # internal: registrar -> router (ADR 0001)
    registrar_internal_sip: int = 5080  # internal: router -> registrar
    nats_port: int = 4222
    postgres_port: int = 5433
    grpc: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_GRPC_PORTS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Layout:
        env = os.environ if environ is None else environ
        d = cls()
        grpc = {
            name: int(env_str(grpc_env_name(name), f"127.0.0.1:{port}", env).rpartition(":")[2])
            for name, port in d.grpc.items()
        }
        return cls(
            sip_host=env_str("CENTRALINO_SIP_HOST", d.sip_host, env),
            advertised_host=env_str("CENTRALINO_SIP_ADVERTISED_HOST", d.advertised_host, env),
            sip_udp=env_int("CENTRALINO_SIP_UDP_PORT", d.sip_udp, env),
            sip_tcp=env_int("CENTRALINO_SIP_TCP_PORT", d.sip_tcp, env),
            sip_tls=env_int("CENTRALINO_SIP_TLS_PORT", d.sip_tls, env),
            sip_ws=env_int("CENTRALINO_SIP_WS_PORT", d.sip_ws, env),
            sip_wss=env_int("CENTRALINO_SIP_WSS_PORT", d.sip_wss, env),
            api_host=env_str("CENTRALINO_API_LISTEN", f"{d.api_host}:{d.api_port}", env).rpartition(
                ":"
            )[0],
            api_port=int(
                env_str("CENTRALINO_API_LISTEN", f"{d.api_host}:{d.api_port}", env).rpartition(":")[
                    2
                ]
            ),
            ldap_port=env_hostport("CENTRALINO_LDAP_LISTEN", f"0.0.0.0:{d.ldap_port}", env)[1],
            snmp_port=env_hostport("CENTRALINO_SNMP_LISTEN", f"0.0.0.0:{d.snmp_port}", env)[1],
            rtp_min=env_int("CENTRALINO_RTP_PORT_MIN", d.rtp_min, env),
            rtp_max=env_int("CENTRALINO_RTP_PORT_MAX", d.rtp_max, env),
            router_sip=int(
                env_str("CENTRALINO_ROUTER_SIP", f"127.0.0.1:{d.router_sip}", env).rpartition(":")[
                    2
                ]
            ),
            registrar_internal_sip=int(
                env_str(
                    "CENTRALINO_REGISTRAR_INTERNAL_SIP",
                    f"127.0.0.1:{d.registrar_internal_sip}",
                    env,
                ).rpartition(":")[2]
            ),
            nats_port=env_int("CENTRALINO_NATS_PORT", d.nats_port, env),
            postgres_port=env_int("CENTRALINO_POSTGRES_PORT", d.postgres_port, env),
            grpc=grpc,
        )

    @classmethod
    def ephemeral(cls) -> Layout:
        """Free loopback ports for everything: tests run the suite beside other work."""
        tcp_udp = free_port()  # SIP UDP and TCP share a number, as on 5060
        # 32000-39999: clear of the media tests' own 30000-31999 range
        rtp = 32000 + (tcp_udp % 80) * 100
        return cls(
            sip_host="127.0.0.1",
            advertised_host="127.0.0.1",
            sip_udp=tcp_udp,
            sip_tcp=tcp_udp,
            sip_tls=free_port(),
            sip_ws=free_port(),
            sip_wss=free_port(),
            api_host="127.0.0.1",
            api_port=free_port(),
            ldap_port=free_port(),
            snmp_port=free_port(),
            rtp_min=rtp,
            rtp_max=rtp + 99,
            router_sip=free_port(),
            registrar_internal_sip=free_port(),
            nats_port=free_port(),
            postgres_port=free_port(),
            grpc={name: free_port() for name in DEFAULT_GRPC_PORTS},
        )

    def service_env(self) -> dict[str, str]:
        """The environment every child service gets (on top of the caller's)."""
        env = {grpc_env_name(name): f"127.0.0.1:{port}" for name, port in self.grpc.items()}
        env.update(
            CENTRALINO_SIP_HOST=self.sip_host,
            CENTRALINO_SIP_ADVERTISED_HOST=self.advertised_host,
            CENTRALINO_SIP_UDP_PORT=str(self.sip_udp),
            CENTRALINO_SIP_TCP_PORT=str(self.sip_tcp),
            CENTRALINO_SIP_TLS_PORT=str(self.sip_tls),
            CENTRALINO_SIP_WS_PORT=str(self.sip_ws),
            CENTRALINO_SIP_WSS_PORT=str(self.sip_wss),
            CENTRALINO_API_LISTEN=f"{self.api_host}:{self.api_port}",
            CENTRALINO_LDAP_LISTEN=f"{self.sip_host}:{self.ldap_port}",
            CENTRALINO_SNMP_LISTEN=f"{self.sip_host}:{self.snmp_port}",
            CENTRALINO_MEDIA_BIND=self.sip_host,
            CENTRALINO_MEDIA_ADDRESS=self.advertised_host,
            CENTRALINO_RTP_PORT_MIN=str(self.rtp_min),
            CENTRALINO_RTP_PORT_MAX=str(self.rtp_max),
            CENTRALINO_ROUTER_SIP=f"127.0.0.1:{self.router_sip}",
            CENTRALINO_REGISTRAR_INTERNAL_SIP=f"127.0.0.1:{self.registrar_internal_sip}",
        )
        return env

"""The router's own settings, from the environment (on top of :class:`CommonSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from centralino.settings import SettingsError, env_hostport, env_int, env_peer, env_str


@dataclass(frozen=True, slots=True)
class RouterSettings:
    #: the internal SIP listener the SIP edge proxies to (UDP); never reachable by phones
    sip_listen: tuple[str, int]
    #: host:port put in Via/Contact; defaults to the listener (must be set when binding 0.0.0.0)
    sip_advertise: tuple[str, int]
    #: the SIP edge's internal listener, for accounts whose location names no registrar
    registrar_sip: tuple[str, int]
    #: active-call lease in the shared counters, renewed every third of it
    call_lease_seconds: int
    media_lease_seconds: int
    #: PostgreSQL for CDR rows; empty disables them (logged at start)
    database_url: str
    #: DNS server for ENUM look-ups (FEAT-07); None: the system's resolvers
    enum_nameserver: tuple[str, int] | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RouterSettings:
        listen = env_hostport("CENTRALINO_ROUTER_SIP", "127.0.0.1:5070", environ)
        advertise_raw = env_str("CENTRALINO_ROUTER_SIP_ADVERTISE", "", environ)
        advertise = (
            env_hostport("CENTRALINO_ROUTER_SIP_ADVERTISE", "", environ)
            if advertise_raw
            else listen
        )
        if advertise[0] in ("0.0.0.0", "::", ""):
            raise SettingsError(
                "CENTRALINO_ROUTER_SIP_ADVERTISE",
                "required when CENTRALINO_ROUTER_SIP binds every address: the SIP edge "
                "must be able to reach the address in Via and Contact",
            )
        return cls(
            sip_listen=listen,
            sip_advertise=advertise,
            registrar_sip=env_peer("CENTRALINO_REGISTRAR_INTERNAL_SIP", "127.0.0.1:5080", environ),
            call_lease_seconds=env_int(
                "CENTRALINO_ROUTER_CALL_LEASE_SECONDS", 90, environ, minimum=10, maximum=3600
            ),
            media_lease_seconds=env_int(
                "CENTRALINO_ROUTER_MEDIA_LEASE_SECONDS", 120, environ, minimum=10, maximum=3600
            ),
            database_url=env_str("DATABASE_URL", "", environ),
            enum_nameserver=(
                env_hostport("CENTRALINO_ENUM_NAMESERVER", "", environ)
                if env_str("CENTRALINO_ENUM_NAMESERVER", "", environ)
                else None
            ),
        )

"""Media service settings, from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from centralino.settings import SettingsError, env_float, env_int, env_str


@dataclass(frozen=True, slots=True)
class MediaSettings:
    #: address put in our SDP (what phones send RTP to)
    advertised_address: str
    #: address the RTP sockets bind to
    bind_address: str
    port_min: int
    port_max: int
    #: no RTP for this long from a leg that should send ⇒ MediaInactivity
    inactivity_seconds: float
    stats_interval_seconds: float
    default_lease_seconds: int
    max_lease_seconds: int
    #: TTL asked for each G.729 channel lease; renewed at half of it
    g729_lease_seconds: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MediaSettings:
        bind = env_str("CENTRALINO_MEDIA_BIND", "127.0.0.1", environ)
        port_min = env_int("CENTRALINO_RTP_PORT_MIN", 20000, environ, minimum=1024, maximum=65534)
        port_max = env_int("CENTRALINO_RTP_PORT_MAX", 29999, environ, minimum=1025, maximum=65535)
        if port_max - port_min < 3:
            raise SettingsError("CENTRALINO_RTP_PORT_MAX", "range must hold at least 2 pairs")
        return cls(
            advertised_address=env_str("CENTRALINO_MEDIA_ADDRESS", bind, environ),
            bind_address=bind,
            port_min=port_min,
            port_max=port_max,
            inactivity_seconds=env_float("CENTRALINO_MEDIA_INACTIVITY_SECONDS", 30.0, environ),
            stats_interval_seconds=env_float("CENTRALINO_MEDIA_STATS_SECONDS", 10.0, environ),
            default_lease_seconds=env_int("CENTRALINO_MEDIA_LEASE_SECONDS", 60, environ, minimum=1),
            max_lease_seconds=env_int(
                "CENTRALINO_MEDIA_MAX_LEASE_SECONDS", 3600, environ, minimum=1
            ),
            g729_lease_seconds=env_int(
                "CENTRALINO_MEDIA_G729_LEASE_SECONDS", 60, environ, minimum=2, maximum=3600
            ),
        )

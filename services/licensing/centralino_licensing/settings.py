"""The licensing service's own settings, read from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from centralino.settings import SettingsError, database_url, env_float, env_str
from centralino_licensing.keys import PublicKeyError, dev_public_key, load_public_key

_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class LicensingSettings:
    serial: str
    public_key: Ed25519PublicKey
    database_url: str
    server_url: str
    server_timeout: float
    lease_ttl: float
    max_lease_ttl: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LicensingSettings:
        serial = env_str("CENTRALINO_SERIAL", "", environ)
        if not _SERIAL.match(serial):
            raise SettingsError(
                "CENTRALINO_SERIAL",
                f"expected this PBX's serial (letters, digits, '.', '_', '-'), got {serial!r}",
            )
        raw_key = env_str("CENTRALINO_LICENCE_PUBLIC_KEY", "", environ)
        try:
            public_key = load_public_key(raw_key) if raw_key else dev_public_key()
        except PublicKeyError as exc:
            raise SettingsError("CENTRALINO_LICENCE_PUBLIC_KEY", str(exc)) from None
        server_url = env_str("CENTRALINO_LICENCE_SERVER_URL", "", environ)
        if server_url and not server_url.startswith(("http://", "https://")):
            raise SettingsError(
                "CENTRALINO_LICENCE_SERVER_URL", f"expected http(s)://..., got {server_url!r}"
            )
        lease_ttl = env_float("CENTRALINO_LICENCE_LEASE_TTL", 30.0, environ)
        max_ttl = env_float("CENTRALINO_LICENCE_LEASE_MAX_TTL", 300.0, environ)
        if not 0 < lease_ttl <= max_ttl:
            raise SettingsError(
                "CENTRALINO_LICENCE_LEASE_TTL",
                f"must be > 0 and <= CENTRALINO_LICENCE_LEASE_MAX_TTL ({max_ttl:g}), "
                f"got {lease_ttl:g}",
            )
        timeout = env_float("CENTRALINO_LICENCE_SERVER_TIMEOUT", 5.0, environ)
        if timeout <= 0:
            raise SettingsError(
                "CENTRALINO_LICENCE_SERVER_TIMEOUT", f"must be > 0, got {timeout:g}"
            )
        return cls(
            serial=serial,
            public_key=public_key,
            database_url=database_url(environ),
            server_url=server_url,
            server_timeout=timeout,
            lease_ttl=lease_ttl,
            max_lease_ttl=max_ttl,
        )

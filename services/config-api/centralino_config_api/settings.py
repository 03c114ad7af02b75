"""config-api's own settings, read from the environment.

``DATABASE_URL`` (required), ``CENTRALINO_API_LISTEN`` (``127.0.0.1:8080``),
``CENTRALINO_ADMIN_PASSWORD`` (optional: sets the ``admin`` user's password at start; when
unset and no admin exists one is generated and logged once), ``CENTRALINO_SECRET_KEY``
(required: at least 16 characters; the key SIP passwords are encrypted with, see crypto.py),
``CENTRALINO_ENFORCE_LICENCES`` (ask the licensing service before licensed changes, e.g. a
second tenant; defaults to on exactly when ``CENTRALINO_LICENSING_GRPC`` names a licensing
service, so a deployment that runs one enforces and a config-api run alone does not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from centralino.settings import (
    SettingsError,
    database_url,
    env_bool,
    env_hostport,
    env_str,
    grpc_address,
    grpc_env_name,
)


@dataclass(frozen=True, slots=True)
class ApiSettings:
    database_url: str
    api_host: str
    api_port: int
    secret_key: str = field(repr=False)
    admin_password: str | None = field(repr=False, default=None)
    #: the licensing service's gRPC address (licence routes, CheckFeature)
    licensing_address: str = ""
    #: ask CheckFeature before licensed changes (CENTRALINO_ENFORCE_LICENCES)
    enforce_licences: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        host, port = env_hostport("CENTRALINO_API_LISTEN", "127.0.0.1:8080", environ)
        key = env_str("CENTRALINO_SECRET_KEY", "", environ)
        if len(key) < 16:
            raise SettingsError(
                "CENTRALINO_SECRET_KEY",
                "must be set to at least 16 characters (e.g. 32 random bytes, url-safe base64); "
                "it encrypts SIP passwords at rest",
            )
        named = grpc_env_name("licensing") in environ
        return cls(
            database_url=database_url(environ),
            api_host=host,
            api_port=port,
            secret_key=key,
            admin_password=env_str("CENTRALINO_ADMIN_PASSWORD", "", environ) or None,
            licensing_address=grpc_address("licensing", environ),
            enforce_licences=env_bool("CENTRALINO_ENFORCE_LICENCES", named, environ),
        )

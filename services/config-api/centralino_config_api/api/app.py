"""Builds the aiohttp application and mounts the optional licences routes."""

from __future__ import annotations

import importlib
import logging

from aiohttp import web

from centralino_config_api.api.http import CORE, MAX_BODY, REGISTRY, TOKENS, TokenCache, middleware
from centralino_config_api.api.metrics import latency_middleware
from centralino_config_api.api.routes import build_registry
from centralino_config_api.core import Core

log = logging.getLogger(__name__)


def build_app(core: Core, licensing_address: str | None = None) -> web.Application:
    """The REST app; licence routes call ``licensing_address`` (default: from the environment)."""
    app = web.Application(middlewares=[latency_middleware, middleware], client_max_size=MAX_BODY)
    registry = build_registry()
    app[CORE] = core
    app[REGISTRY] = registry
    app[TOKENS] = TokenCache()
    registry.mount(app)
    _mount_licences(app, licensing_address)
    return app


def _mount_licences(app: web.Application, licensing_address: str | None) -> None:
    """The licensing engineer's ``licences_routes.add_routes(app)`` (admin only), when that
    module exists in this build."""
    try:
        module = importlib.import_module("centralino_config_api.licences_routes")
    except ModuleNotFoundError as exc:
        if exc.name != "centralino_config_api.licences_routes":
            log.error("licence routes not mounted: %s", exc)
        return
    except ImportError as exc:  # their module is broken: keep the rest of the API up
        log.error("licence routes not mounted: %s", exc)
        return
    add_routes = getattr(module, "add_routes", None)
    if add_routes is None:
        log.warning("licences_routes has no add_routes(); licence routes not mounted")
        return
    add_routes(app, licensing_address)

"""HTTP plumbing: JSON bodies, conditional requests, errors as JSON, authentication."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from centralino_config_api import users
from centralino_config_api.api.registry import Handler, Registry
from centralino_config_api.common import etag, storable
from centralino_config_api.core import Core
from centralino_config_api.errors import (
    BadRequest,
    ConfigError,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    TooManyAttempts,
    Unauthorized,
)

log = logging.getLogger(__name__)

CORE: web.AppKey[Core] = web.AppKey("core", Core)
REGISTRY: web.AppKey[Registry] = web.AppKey("registry", Registry)
TOKENS: web.AppKey[TokenCache] = web.AppKey("tokens", object)  # type: ignore[arg-type]
PRINCIPAL: web.RequestKey[users.Principal] = web.RequestKey("principal", users.Principal)
MAX_BODY = 16 * 1024 * 1024


class TokenCache:
    """Resolved tokens for a few seconds: saves a query per request; a revoked token
    stays valid in other replicas for at most ``ttl`` seconds."""

    def __init__(self, ttl: float = 10.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[float, users.Principal]] = {}

    def get(self, token: str) -> users.Principal | None:
        hit = self._items.get(token)
        if hit is None or hit[0] < time.monotonic():
            self._items.pop(token, None)
            return None
        return hit[1]

    def put(self, token: str, principal: users.Principal) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[token] = (time.monotonic() + self.ttl, principal)

    def drop(self, token: str) -> None:
        self._items.pop(token, None)

    def clear(self) -> None:
        self._items.clear()


def dumps(data: Any) -> str:
    return encode(data).decode()


def encode(data: Any) -> bytes:
    """JSON as UTF-8 bytes; orjson because list pages spend most of their time here."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def reply(
    data: Any,
    status: int = 200,
    revision: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    resp = web.Response(
        body=encode(data),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )
    if revision is not None:
        resp.headers["ETag"] = etag(revision)
    return resp


async def body_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise BadRequest("send the body as Content-Type: application/json")
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


def if_match(request: web.Request) -> int | None:
    """The revision the client last saw. Writes must name one (428 otherwise), so two
    admins cannot overwrite each other silently; ``*`` opts out explicitly."""
    raw = request.headers.get("If-Match")
    if raw is None:
        raise PreconditionRequired("send If-Match with the ETag from your last read (or *)")
    raw = raw.strip()
    if raw == "*":
        return None
    tag = raw.removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed(f"If-Match {raw!r} is not an ETag from this API")
    return int(tag)


def principal(request: web.Request) -> users.Principal:
    p = request.get(PRINCIPAL)
    if p is None:
        raise Unauthorized("log in first")
    return p  # type: ignore[no-any-return]


def scoped_tenant(request: web.Request) -> str:
    """The {tenant} of the path, if the caller may act on it. Another tenant's data is
    reported as not found, so tenant names do not leak across tenants."""
    p = principal(request)
    tenant = request.match_info["tenant"]
    if p.role == "admin":
        return tenant
    if p.tenant != tenant:
        raise NotFound(f"no tenant {tenant!r}")
    if p.role != "tenant_admin":
        raise Forbidden("tenant users may only use /api/v1/me")
    return tenant


async def _authenticate(request: web.Request) -> users.Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token> (POST /api/v1/auth/login)")
    token = token.strip()
    cache = request.app[TOKENS]
    p = cache.get(token)
    if p is None:
        async with request.app[CORE].read() as conn:
            p = await users.resolve(conn, token)
        cache.put(token, p)
    return p


def _error(exc: ConfigError) -> web.Response:
    headers = {}
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="centralino"'
    if isinstance(exc, PreconditionFailed) and exc.current_etag:
        headers["ETag"] = exc.current_etag
    return web.json_response(exc.body(), status=exc.status, headers=headers, dumps=dumps)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        info = request.match_info
        route = request.app[REGISTRY].find(
            request.method, info.route.resource.canonical if info.route.resource else ""
        )
        if route is None:
            if info.http_exception is not None:
                raise info.http_exception
            # routes mounted by other modules (licences): PBX administrators only
            p = await _authenticate(request)
            if p.role != "admin":
                raise Forbidden("only PBX administrators may do this")
            request[PRINCIPAL] = p
            request["principal"] = p  # the key licences_routes documents it reads
            return await handler(request)
        if not all(storable(v) for v in info.values()):
            raise NotFound("no such resource")
        if route.access != "public":
            p = await _authenticate(request)
            request[PRINCIPAL] = p
            if route.access == "admin" and p.role != "admin":
                raise Forbidden("only PBX administrators may do this")
            if route.access in ("tenant_read", "tenant_write"):
                # read and write differ only for tenant users, who have neither here
                scoped_tenant(request)
        return await handler(request)
    except ConfigError as exc:
        return _error(exc)
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
        # two writers crossed (e.g. a template edit and one of its items); nothing was
        # written by this request, so the client can simply retry
        return _error(Conflict("a concurrent change collided with this one; retry"))
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.status != 500:
            return web.json_response(
                {"error": exc.reason.lower().replace(" ", "_"), "message": exc.reason},
                status=exc.status,
                headers={k: v for k, v in exc.headers.items() if k.lower() == "allow"},
            )
        raise

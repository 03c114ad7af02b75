"""Route registry: every route is declared once with its access rule and documentation,
so the router and the OpenAPI document are built from the same list and cannot drift."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: who may call a route; tenant-scoped rules also check the {tenant} in the path
ACCESS = ("public", "authenticated", "admin", "tenant_read", "tenant_write")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    access: str
    tag: str
    request: Mapping[str, Any] | None = None
    response: Mapping[str, Any] | None = None
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()  # (name, type, description)
    conditional: bool = False  # needs If-Match
    extra_responses: tuple[int, ...] = ()
    request_types: tuple[str, ...] = ("application/json",)


@dataclass
class Registry:
    routes: list[Route] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        summary: str,
        *,
        access: str,
        tag: str,
        **kw: Any,
    ) -> None:
        assert access in ACCESS, access
        self.routes.append(Route(method, path, handler, summary, access, tag, **kw))

    def mount(self, app: web.Application) -> None:
        for r in self.routes:
            app.router.add_route(r.method, r.path, r.handler)

    def find(self, method: str, resource: str) -> Route | None:
        for r in self.routes:
            if r.method == method and r.path == resource:
                return r
        return None

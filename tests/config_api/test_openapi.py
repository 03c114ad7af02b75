"""The served OpenAPI document covers every route the application serves."""

from __future__ import annotations

from .conftest import Running


async def test_every_route_is_documented(shared: Running) -> None:
    async with shared.http.get(shared.base + "/api/v1/openapi.json") as r:
        assert r.status == 200
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    assert shared.service.runner is not None
    app = shared.service.runner.app
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served == documented
    # every $ref resolves
    schemas = doc["components"]["schemas"]
    text = str(doc)
    import re

    for ref in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert ref in schemas, ref

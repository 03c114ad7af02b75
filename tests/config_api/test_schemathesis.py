"""Property-based requests generated from the served OpenAPI document: no server errors, and
every answer (status, content type, body) is one the document declares."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings

from centralino.runner.embedded import free_port

from .conftest import ADMIN_PASSWORD, service_env

# schemathesis comes with config-api's "test" extra (`uv sync --all-extras`)
schemathesis = pytest.importorskip("schemathesis")
requests = pytest.importorskip("requests")
from schemathesis import checks  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi import checks as openapi_checks  # noqa: E402

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


async def _create_db(root: str, name: str) -> None:
    conn = await asyncpg.connect(root + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def served(postgres_server: Any, nats_url: str) -> Iterator[dict[str, str]]:
    """config-api in its own process: schemathesis calls it synchronously from this thread."""
    root = postgres_server.url.rsplit("/", 1)[0]
    name = f"st_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_db(root, name))
    port = free_port()
    env = {
        **os.environ,
        **service_env(f"{root}/{name}", nats_url),
        "CENTRALINO_API_LISTEN": f"127.0.0.1:{port}",
        "CENTRALINO_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "centralino_config_api"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        token = None
        while token is None:
            try:
                r = requests.post(
                    base + "/api/v1/auth/login",
                    timeout=2,
                    json={"username": "admin", "password": ADMIN_PASSWORD},
                )
                token = r.json()["token"]
            except requests.ConnectionError:
                # no readiness event crosses the process boundary; the port opens once
                assert proc.poll() is None and time.monotonic() < deadline, "config-api died"
                time.sleep(0.1)
        requests.post(
            base + "/api/v1/tenants",
            timeout=5,
            json={"id": "demo", "name": "D"},
            headers={"Authorization": f"Bearer {token}"},
        )
        yield {"base": base, "token": token}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


SKIP = {
    ("POST", "/api/v1/auth/logout"),  # would revoke the token the test uses
    ("PATCH", "/api/v1/users/{user}"),  # could change or drop that admin
    ("DELETE", "/api/v1/users/{user}"),
}


def test_api_conforms_to_its_openapi_document(served: dict[str, str]) -> None:
    """Every operation, a few generated cases each (schemathesis' pytest plugin does not
    support this pytest yet, so operations are driven directly)."""
    api = schemathesis.openapi.from_url(served["base"] + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {served['token']}"}
    failures: list[str] = []
    tested = 0
    for result in api.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP or operation.path.startswith(
            "/api/v1/licenses"  # mounted from licences_routes; needs the licensing service
        ):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if case.path_parameters and "tenant" in case.path_parameters:
                # a real tenant, so bodies reach validation and the database
                case.path_parameters["tenant"] = "demo"
            case.call_and_validate(
                base_url=served["base"], headers=headers, checks=CHECKS, timeout=10
            )

        tested += 1
        try:
            run()
        except (AssertionError, FailureGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert tested > 50
    assert not failures, "\n\n".join(failures)

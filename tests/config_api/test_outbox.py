"""Every committed change reaches NATS through the outbox, even across a NATS outage, and a
rolled-back change publishes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import nats

from centralino.runner.embedded import EmbeddedNats, free_port
from centralino.v1 import config_pb2

from .conftest import Running, config_events, running_service


async def test_outbox_delivers_after_nats_restart_and_never_for_rollbacks(
    database_url: str, tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path / "nats", free_port())
    server.start()
    try:
        async with running_service(database_url, server.url) as api:
            s, body, _ = await api.call("POST", "/api/v1/tenants", json={"id": "ob", "name": "O"})
            assert s == 201, body
            s, body, _ = await api.call(
                "POST", "/api/v1/tenants/ob/extensions", json={"number": "100"}
            )
            assert s == 201, body
            first = await config_events(server.url, "centralino.ob.config.extension.>", 1)
            assert (first[0].kind, first[0].op, first[0].key) == ("extension", "created", "100")
            assert first[0].id == body["id"] and first[0].revision == 1
            assert first[0].meta.tenant == "ob"

            server.stop()
            s, body, _ = await api.call(
                "POST", "/api/v1/tenants/ob/extensions", json={"number": "101"}
            )
            assert s == 201, body  # the database is the source of truth; NATS may be down
            s, bad, _ = await api.call(
                "POST",
                "/api/v1/tenants/ob/extensions",
                json={"number": "102", "email": "not-an-email"},
            )
            assert s == 422, bad
            conn = await asyncpg.connect(database_url)
            try:
                waiting = await conn.fetch("SELECT key FROM outbox WHERE tenant = 'ob'")
            finally:
                await conn.close()
            assert [r["key"] for r in waiting] == ["101"]

            server.start()
            s, body, _ = await api.call(
                "POST", "/api/v1/tenants/ob/extensions", json={"number": "103"}
            )
            assert s == 201, body
            # in commit order, and the refused 102 never appears between them
            events = await config_events(server.url, "centralino.ob.config.extension.>", 3)
            assert [e.key for e in events] == ["100", "101", "103"]
    finally:
        server.stop()


async def test_template_edit_emits_an_event_per_affected_item(
    shared: Running, own_tenant: str
) -> None:
    base = f"/api/v1/tenants/{own_tenant}"
    s, tpl, _ = await shared.call("POST", f"{base}/extension-templates", json={"name": "t"})
    for n in ("10", "11"):
        await shared.call(
            "POST", f"{base}/extensions", json={"number": n, "template_id": tpl["id"]}
        )
    await shared.call("POST", f"{base}/extensions", json={"number": "12"})
    nc = await nats.connect(shared.nats_url)
    got: asyncio.Queue[config_pb2.ConfigChanged] = asyncio.Queue()

    async def on(msg: Any) -> None:
        await got.put(config_pb2.ConfigChanged.FromString(msg.data))

    try:
        await nc.subscribe(f"centralino.{own_tenant}.config.>", cb=on)
        await nc.flush()
        s, out, _ = await shared.call(
            "PATCH",
            f"{base}/extension-templates/t",
            if_match="*",
            json={"settings": {"limits": {"call_limit": 3}}},
        )
        assert s == 200, out
        events: list[config_pb2.ConfigChanged] = []
        while len(events) < 3:
            event = await asyncio.wait_for(got.get(), 10)
            if event.op == "updated":  # creations published late by the outbox are not ours
                events.append(event)
    finally:
        await nc.close()
    assert events[0].kind == "extension_template" and events[0].op == "updated"
    assert sorted((e.kind, e.key, e.revision) for e in events[1:]) == [
        ("extension", "10", 2),
        ("extension", "11", 2),
    ]

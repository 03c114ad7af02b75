"""Two registrar replicas on one KV bucket, hammered concurrently (REG-06)."""

from __future__ import annotations

import asyncio

import pytest
from registrar_harness import Pbx, registrar_env, running, unique
from registrar_phone import Phone

from centralino.runner.embedded import free_port
from centralino.sip.transport import TransportKind
from centralino_registrar.service import RegistrarService


async def test_reg06_last_register_wins_across_two_replicas(pbx: Pbx, nats_url: str) -> None:
    user = unique("8")
    await pbx.add_account(user, "replicapw1")
    env = registrar_env(
        nats_url,
        pbx.env["CENTRALINO_CONFIG_GRPC"],
        pbx.router,
        CENTRALINO_REGISTRAR_GRPC=f"127.0.0.1:{free_port()}",
    )
    async with running(RegistrarService, "registrar", env) as second:
        replicas = [pbx.registrar, second]
        phones = [
            await Phone(
                replicas[i % 2].listeners[TransportKind.TCP], user, "replicapw1", transport="tcp"
            ).open()
            for i in range(12)
        ]
        router = await pbx.router_peer()
        try:
            for _ in range(3):  # rounds of every device registering at the same moment
                answers = await asyncio.gather(*(p.register() for p in phones))
                assert [a.status for a in answers] == [200] * len(phones)
            assert pbx.registrar.edge is not None and second.edge is not None
            stored = await pbx.registrar.edge.store.get(user)
            assert stored == await second.edge.store.get(user)
            assert stored is not None
            winners = [p for p in phones if p.contact_uri() == stored.contact]
            assert len(winners) == 1
            # the router asks the first replica; the phone's connection may be on the
            # second, which then delivers it: only the last registered device rings
            router.invite(user)
            incoming = await winners[0].request_in()
            assert incoming.method == "INVITE"
            winners[0].answer(incoming, 603)
            assert (await router.response()).status == 603
            await asyncio.sleep(0.2)
            assert all(p.inbox.empty() for p in phones)
            # deterministic relay: the last device registers at the second replica, the
            # router asks the first, and the INVITE still arrives on the device's connection
            last = phones[1]
            assert (await last.register()).status == 200
            router.invite(user)
            incoming = await last.request_in()
            assert incoming.method == "INVITE" and incoming.uri_text == last.contact_uri()
            last.answer(incoming, 486)
            assert (await router.response()).status == 486
        finally:
            for p in phones:
                p.close()
            router.close()


@pytest.mark.parametrize("rounds", [1])
async def test_reg06_alternating_devices_never_leave_two_locations(
    pbx: Pbx, nats_url: str, rounds: int
) -> None:
    user = unique("8")
    await pbx.add_account(user, "replicapw2")
    env = registrar_env(
        nats_url,
        pbx.env["CENTRALINO_CONFIG_GRPC"],
        pbx.router,
        CENTRALINO_REGISTRAR_GRPC=f"127.0.0.1:{free_port()}",
    )
    async with running(RegistrarService, "registrar", env) as second:
        a = await Phone(pbx.sip(), user, "replicapw2").open()
        b = await Phone(second.listeners[TransportKind.UDP], user, "replicapw2").open()
        try:
            for _ in range(rounds * 10):
                first, last = (a, b) if _ % 2 else (b, a)
                assert (await first.register()).status == 200
                assert (await last.register()).status == 200
                assert pbx.registrar.edge is not None
                stored = await pbx.registrar.edge.store.get(user)
                assert stored is not None and stored.contact == last.contact_uri()
        finally:
            a.close()
            b.close()


async def test_a_port_in_use_is_a_clear_settings_error(pbx: Pbx, nats_url: str) -> None:
    from centralino.settings import SettingsError

    busy = pbx.sip()[1]
    env = registrar_env(
        nats_url,
        pbx.env["CENTRALINO_CONFIG_GRPC"],
        pbx.router,
        CENTRALINO_REGISTRAR_GRPC=f"127.0.0.1:{free_port()}",
        CENTRALINO_SIP_UDP_PORT=str(busy),
    )
    with pytest.raises(
        SettingsError, match=f"CENTRALINO_SIP_UDP_PORT: cannot listen on UDP 127.0.0.1:{busy}"
    ):
        async with running(RegistrarService, "registrar", env):
            pass

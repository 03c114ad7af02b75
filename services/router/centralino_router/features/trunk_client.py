"""asyncio adapter: keeps one trunk registered with the SIP core's transactions.

The provider's address is resolved by the caller (RFC 3263 via ``centralino.sip.resolve``,
or the outbound proxy's); this layer only moves datagrams and time between the socket's owner,
the :class:`~centralino.sip.TransactionLayer` and :class:`.TrunkRegistration`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from centralino.sip import Request, SipError, parse_message
from centralino.sip.events import ResponseReceived, TransactionTimeout
from centralino.sip.transaction_layer import TransactionLayer

from .trunk_registration import TrunkAccount, TrunkRegistration, TrunkState

log = logging.getLogger(__name__)


class TrunkClient:
    """Run with ``await client.run()`` in a task; cancel the task to stop.

    ``send`` puts bytes on the wire towards the provider; whoever owns the socket hands
    what comes back to :meth:`receive`. The router shares its own SIP socket this way, so
    the provider sees requests from the address it sends incoming calls to.
    """

    def __init__(
        self,
        account: TrunkAccount,
        provider: tuple[str, int],
        send: Callable[[bytes, tuple[str, int]], None],
        on_state: Callable[[TrunkState], None] | None = None,
    ) -> None:
        self.registration = TrunkRegistration(account)
        self.provider = provider
        self.send = send
        self.on_state = on_state
        self.registered = asyncio.Event()
        #: set once an :meth:`unregister` has been answered (or given up)
        self.unregistered = asyncio.Event()
        self._stopping = False
        self._layer = TransactionLayer()
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._reported = TrunkState.IDLE

    @property
    def call_id(self) -> str:
        """The Call-ID of every REGISTER: how responses find their client."""
        return self.registration.call_id

    def receive(self, data: bytes) -> None:
        self._inbox.put_nowait(data)

    def unregister(self) -> None:
        """Send the binding's removal; :attr:`unregistered` is set when it is done. The
        task keeps running to answer a challenge: cancel it afterwards."""
        now = asyncio.get_running_loop().time()
        self._stopping = True
        self._send(self.registration.stop(now), now)
        self._inbox.put_nowait(b"")  # wake the loop so it sends at once

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._send(self.registration.start(loop.time()), loop.time())
        self._report()
        while True:
            self._flush()
            await self._step(loop)

    async def _step(self, loop: asyncio.AbstractEventLoop) -> None:
        deadlines = [
            t for t in (self._layer.get_timer(), self.registration.get_timer()) if t is not None
        ]
        timeout = max(0.0, min(deadlines) - loop.time()) if deadlines else None
        data: bytes | None = None
        with contextlib.suppress(TimeoutError):
            data = await asyncio.wait_for(self._inbox.get(), timeout)
        now = loop.time()
        if data:  # b"" only wakes the loop
            try:
                message = parse_message(data)
            except SipError as exc:
                log.info("trunk %s: dropping unparsable datagram: %s", self.provider, exc)
                message = None
            if message is not None:
                self._layer.receive(message, now, reliable=False)
        self._layer.handle_timer(now)
        while (event := self._layer.next_event()) is not None:
            if isinstance(event, ResponseReceived) and event.transaction is not None:
                request = self.registration.receive(event.response, now)
                if request is not None:
                    self._send(request, now)
            elif isinstance(event, TransactionTimeout):
                self.registration.transaction_timeout(now)
        request = self.registration.handle_timer(now)
        if request is not None:
            self._send(request, now)
        self._report()

    def _send(self, request: Request, now: float) -> None:
        self._layer.send_request(request, now, reliable=False)

    def _flush(self) -> None:
        for outgoing in self._layer.messages_to_send():
            self.send(outgoing.message.serialize(), self.provider)

    def _report(self) -> None:
        state = self.registration.state
        if state is self._reported:
            return
        self._reported = state
        if state is TrunkState.REGISTERED:
            self.registered.set()
        else:
            self.registered.clear()
        if self._stopping and state is TrunkState.IDLE:
            self.unregistered.set()
        if self.on_state is not None:
            self.on_state(state)

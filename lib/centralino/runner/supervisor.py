"""Supervised child processes: each service restarted with back-off when it crashes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

log = logging.getLogger("centralino.runner")


class ChildError(RuntimeError):
    """A service did not become healthy."""


class Child:
    """One service process, restarted when it exits unexpectedly."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log_path: Path,
        on_event: Callable[[str], None],
    ) -> None:
        self.name = name
        self.argv = argv
        # The child asks the kernel for SIGTERM when we die (centralino.service), so a
        # killed runner leaves no service behind.
        self.env = {**env, "CENTRALINO_SUPERVISOR_PID": str(os.getpid())}
        self.log_path = log_path
        self.on_event = on_event
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def _spawn(self) -> asyncio.subprocess.Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_path.open("ab")
        try:
            return await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            out.close()

    async def start(self) -> None:
        self.proc = await self._spawn()
        self._task = asyncio.create_task(self._watch(), name=f"supervise-{self.name}")

    async def _watch(self) -> None:
        backoff = 0.5
        while True:
            assert self.proc is not None
            started = time.monotonic()
            code = await self.proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            self.on_event(
                f"{self.name} exited with code {code}; restarting in {backoff:.1f}s "
                f"(restart #{self.restarts}, log: {self.log_path})"
            )
            await asyncio.sleep(backoff)
            # A service that ran a while before crashing starts again from a short delay.
            backoff = 0.5 if time.monotonic() - started > 30 else min(backoff * 2, 15.0)
            if self._stopping:
                return
            self.proc = await self._spawn()

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.on_event(f"{self.name} ignored SIGTERM for {timeout}s; killing it")
                self.proc.kill()
                await self.proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def wait_healthy(name: str, address: str, child: Child | None, timeout: float) -> None:
    """Wait for SERVING on the gRPC health Watch stream (no polling of the port)."""
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if child is not None and child.proc is not None and child.proc.returncode is not None:
                raise ChildError(
                    f"{name} exited with code {child.proc.returncode} while starting; "
                    f"see {child.log_path}"
                )
            call = stub.Watch(health_pb2.HealthCheckRequest(), wait_for_ready=True)
            try:
                async for reply in _with_timeout(call, min(remaining, 2.0)):
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        call.cancel()
                        return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.1)  # server restarting: reconnect and watch again
    where = f"; see {child.log_path}" if child is not None else ""
    raise ChildError(f"{name} did not report SERVING at {address} within {timeout:.0f}s{where}")


async def _with_timeout(call: grpc.aio.UnaryStreamCall, timeout: float):  # type: ignore[no-untyped-def]
    it = call.__aiter__()
    while True:
        try:
            yield await asyncio.wait_for(it.__anext__(), timeout)
        except (StopAsyncIteration, TimeoutError):
            call.cancel()
            return


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]

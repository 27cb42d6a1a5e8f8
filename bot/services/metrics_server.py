"""The METRICS_PORT endpoint: ``/metrics`` for Prometheus, ``/healthz`` and ``/readyz`` for
orchestrators (Docker's HEALTHCHECK, Kubernetes probes).

It is aiohttp (discord.py's own HTTP library) on the bot's event loop, not prometheus-client's
threaded server: so ``/healthz`` answers only while the loop does (a blocked loop fails the
liveness check, which is the point), and the gauges read at scrape time look at the bot's state
from the loop that changes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.metrics import Metrics

log = logging.getLogger(__name__)

STORE_TIMEOUT = 2.0  # seconds for the store to answer a readiness query


class MetricsServerError(RuntimeError):
    """The port cannot be served (taken, or not ours to bind). The message says which."""


class MetricsServer:
    """Serves ``metrics`` on ``host``:``port`` (METRICS_HOST, 127.0.0.1 unless the operator
    says otherwise; in a container 0.0.0.0, so that a published port reaches it).
    ``gateway_up`` and ``store_answers`` decide readiness."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        port: int,
        gateway_up: Callable[[], bool],
        store_answers: Callable[[], Awaitable[object]],
        host: str = "127.0.0.1",
    ) -> None:
        self.metrics = metrics
        self.port = port
        self.host = host
        self.gateway_up = gateway_up
        self.store_answers = store_answers
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)  # scrapes every few seconds: no log
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self.close()
            # (The error names the address: METRICS_HOST's.)
            raise MetricsServerError(f"METRICS_PORT {self.port} cannot be served: {exc}") from exc
        log.info("Serving /metrics, /healthz and /readyz on %s port %d", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def not_ready(self) -> str | None:
        """Why the bot cannot take work now (None: it can): it must be connected to Discord's
        gateway, and its store must answer a trivial query."""
        if not self.gateway_up():
            return "not connected to Discord's gateway"
        try:
            await asyncio.wait_for(self.store_answers(), STORE_TIMEOUT)
        except TimeoutError:
            return f"the store did not answer within {STORE_TIMEOUT:g} s"
        except Exception as exc:  # whatever the store raises, the answer is "not ready"
            return f"the store failed: {type(exc).__name__}"
        return None

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")  # reaching this handler is the proof: the loop runs

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = await self.not_ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

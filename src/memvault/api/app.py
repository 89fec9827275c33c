"""The composition root of the HTTP API: `create_app(settings)` builds everything it needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from memvault import __version__
from memvault.api import routes_context, routes_memories, routes_status, routes_sync
from memvault.api.errors import install_error_handlers
from memvault.api.limits import BodySizeLimitMiddleware
from memvault.api.security import BearerTokenMiddleware
from memvault.config import MAX_BODY_BYTES, Settings
from memvault.context.sessions import end_idle_sessions_forever
from memvault.mcp_server import build_mcp_server
from memvault.runtime import open_service
from memvault.safety.dispatch import AlertDispatcher
from memvault.safety.watchdog import StoreWatchdog
from memvault.service import MemoryService


def create_app(settings: Settings, service: MemoryService | None = None) -> FastAPI:
    """The API over `service`; without one, open the store from settings and close it on exit."""
    owned = service is None
    active = open_service(settings, with_sync=True, tool="api") if service is None else service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        # The replicator and pull run beside the API for as long as it serves.
        background = asyncio.create_task(active.sync.run(stop)) if active.sync else None
        sweeper = asyncio.create_task(end_idle_sessions_forever(active.sessions, stop))
        dispatcher = AlertDispatcher(
            active.store,
            active.sync.replica if active.sync else None,
            n8n_url=settings.n8n_webhook_url,
            secret=settings.webhook_token.get_secret_value() if settings.webhook_token else None,
        )
        delivery = asyncio.create_task(dispatcher.run_forever(stop))
        # A vanished, replaced, emptied or schema-less store is reported and recovered at once.
        watchdog = asyncio.create_task(StoreWatchdog(active).run_forever(stop))
        embedding = None
        if active.embedder is not None and settings.embeddings != "none":
            from memvault.embeddings.worker import EmbeddingWorker

            # Vectors are filled in here, off the write path; writes wake the worker.
            active.embedding_worker = EmbeddingWorker(active.store, active.embedder)
            embedding = asyncio.create_task(active.embedding_worker.run_forever(stop))
        try:
            async with mcp_server.session_manager.run():  # MCP sessions at /mcp
                yield
        finally:
            stop.set()
            await sweeper
            await delivery
            await watchdog
            if embedding is not None:
                await embedding
            if background is not None:
                await background
            if owned:
                if active.sync is not None:
                    await active.sync.close()
                active.store.close()

    app = FastAPI(
        title="memvault",
        version=__version__,
        description="The memory layer AI coding agents cannot destroy.",
        lifespan=lifespan,
    )
    app.state.service = active
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(routes_memories.router)
    app.include_router(routes_context.router)
    app.include_router(routes_status.router)
    app.include_router(routes_sync.router)
    # MCP over streamable HTTP at /mcp: the same tools as `memvault mcp`, over the same service.
    # Its route joins the app's, so the body limit and the bearer token guard it as well.
    mcp_server = build_mcp_server(active)
    app.router.routes.extend(
        mcp_server.streamable_http_app(streamable_http_path="/mcp", host=settings.host).routes
    )

    token = settings.api_token.get_secret_value() if settings.api_token else ""
    if token:
        app.add_middleware(
            BearerTokenMiddleware, token=token, signed_paths=routes_sync.SIGNED_PATHS
        )
    # Added last, so it runs first: an oversized body is refused before anything else.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    return app

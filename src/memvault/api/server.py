"""Run the API under uvicorn."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOG_LEVELS

from memvault.api.app import create_app
from memvault.config import Settings
from memvault.errors import InvalidInputError

logger = logging.getLogger("memvault.api")


def build_server(settings: Settings, app: FastAPI | None = None) -> uvicorn.Server:
    """A uvicorn server for `app` (built from settings when not given) on settings.host:port."""
    level = settings.log_level.lower()
    if level not in LOG_LEVELS:
        choices = ", ".join(name.upper() for name in LOG_LEVELS)
        raise InvalidInputError(
            [{"field": "MEMVAULT_LOG_LEVEL", "message": f"must be one of {choices}"}]
        )
    if not _is_loopback(settings.host) and settings.api_token is None:
        logger.warning(
            "listening on %s without MEMVAULT_API_TOKEN: anyone who can reach it can write",
            settings.host,
        )
    config = uvicorn.Config(
        app if app is not None else create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=level,
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(settings: Settings) -> None:
    """Serve the API until interrupted, replicating in the background.

    Before anything opens (and so creates) the store, a missing, empty or schema-less store is
    recovered from the replica: an empty store is never served as the truth (invariant 4).
    """
    from memvault.sync.audit import configure_logging

    configure_logging(settings.log_level, file=settings.log_file)
    if settings.neo4j_password is not None:
        import asyncio

        from memvault.remote.neo4j import Neo4jReplica
        from memvault.sync.startup import ensure_not_empty

        asyncio.run(ensure_not_empty(settings, Neo4jReplica.from_settings))
    build_server(settings).run()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""The HTTP API face: thin routes over MemoryService."""

from memvault.api.app import create_app
from memvault.api.server import build_server, serve

__all__ = ["build_server", "create_app", "serve"]

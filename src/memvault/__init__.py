"""memvault: the memory layer AI coding agents cannot destroy."""

__version__ = "0.1.0"

"""The SQLite store: one database per storage root, shared by many podium processes."""

from .store import Store

__all__ = ["Store"]

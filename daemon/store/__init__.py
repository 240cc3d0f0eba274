"""The store: the only shared state. All SQL lives in this package."""

from daemon.store.base import Customer, EventOutcome, Recorded, Store
from daemon.store.sqlite import SQLiteStore

__all__ = ["Customer", "EventOutcome", "Recorded", "SQLiteStore", "Store"]

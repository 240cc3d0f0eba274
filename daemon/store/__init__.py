"""The store: the only shared state. All SQL lives in this package."""

from daemon.store.interface import Store
from daemon.store.rows import Customer, EventOutcome, Recorded
from daemon.store.sqlite import SQLiteStore

__all__ = ["Customer", "EventOutcome", "Recorded", "SQLiteStore", "Store"]

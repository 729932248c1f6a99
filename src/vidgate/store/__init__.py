"""Durable state: tables, migrations and the store interface."""

from vidgate.store.store import QuotaShort, Store

__all__ = ["QuotaShort", "Store"]

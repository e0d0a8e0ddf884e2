"""The storage layer's errors, in one place. Every message is safe to show: no password, ever."""

from __future__ import annotations


class StorageError(Exception):
    """The storage cannot be opened or used; the message is safe to show (no password)."""


class OwnershipLost(Exception):
    """A fenced write matched no row: another node owns the execution now."""


class LeaseLost(OwnershipLost):
    """A leased chunk commit found its lease gone (expired and taken, or revoked): nothing
    was written. Only that chunk is lost, not the execution: an owner carries on."""

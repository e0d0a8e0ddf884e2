"""One error root for storage, split the way the engine must treat it (DESIGN rule 6).

- :class:`TransientStorageError`: storage weather (connection lost, server restarting, busy,
  disk full, I/O error). Never changes a run's status: retry, or stop leaving it RUNNING.
- :class:`PermanentStorageError`: the storage is not usable as it is (not ours, newer schema,
  read-only, file gone or replaced, corrupt, constraint or permission). Retrying cannot help.
- :class:`OwnershipLost`: a fenced write matched no row and the owner token shows that
  another owner took the run. Not a storage fault: the executor stops writing.

Every message is safe to show: no password, ever.
"""

from __future__ import annotations


class StorageError(Exception):
    """The storage cannot be opened or used; the message is safe to show (no password)."""


class TransientStorageError(StorageError):
    """Storage weather: the same operation may succeed if retried later."""


class StorageUnavailable(TransientStorageError):
    """The connection was lost, refused or reset, or the server is shutting down."""


class StorageBusy(TransientStorageError):
    """The database is locked by another writer (SQLITE_BUSY/LOCKED, lock timeout)."""


class StorageFull(TransientStorageError):
    """The disk (or quota) is full: SQLITE_FULL, PostgreSQL disk_full."""


class StorageIOError(TransientStorageError):
    """An I/O error the device may recover from (SQLITE_IOERR)."""


class PermanentStorageError(StorageError):
    """Retrying cannot help: the storage must be fixed or another one chosen."""


class StorageGone(PermanentStorageError):
    """The SQLite file was deleted or replaced under an open storage: the record is lost."""


class ForeignStorage(PermanentStorageError):
    """The database holds another application's data and no genwf schema."""


class SchemaTooNew(PermanentStorageError):
    """The database's genwf schema is newer than this build knows."""


class StorageReadOnly(PermanentStorageError):
    """A write was asked of a storage opened (or only openable) read-only."""


class OwnershipLost(Exception):
    """A fenced write matched no row: another node owns the execution now."""


class LeaseLost(OwnershipLost):
    """A leased chunk commit found its lease gone (expired and taken, or revoked): nothing
    was written. Only that chunk is lost, not the execution: an owner carries on."""

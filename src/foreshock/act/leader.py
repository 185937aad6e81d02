"""One acting replica at a time.

On PostgreSQL the leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a
connection it keeps open: if the process dies, PostgreSQL drops the connection and the lock
with it, and another replica takes over on its next try. On SQLite there is no server to
arbitrate, so only one process may run the loop at all: an exclusive `flock` on a file beside
the database enforces it (a second process is told so instead of acting twice).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from typing import IO, Protocol

from sqlalchemy import Connection, text

from foreshock.store.state import StateStore


class Leader(Protocol):
    def acquire(self) -> bool:
        """Whether this process leads now (try again each pass; never blocks)."""
        ...

    def release(self) -> None: ...


def lock_id(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresLeader:
    def __init__(self, store: StateStore, name: str = "foreshock-act") -> None:
        if not store.postgres:
            raise ValueError("PostgresLeader needs a PostgreSQL state store")
        self.engine = store.engine
        self.key = lock_id(name)
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            try:  # still our session? the lock lives exactly as long as it does
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                self._drop()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}))
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._drop()


class SingleProcessLeader:
    """SQLite: the process holding `<database>.act.lock` is the only one that acts."""

    def __init__(self, store: StateStore) -> None:
        database = store.engine.url.database or ""
        self.path = f"{database}.act.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        if self._fh is not None:
            return True
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def leader_for(store: StateStore) -> Leader:
    return PostgresLeader(store) if store.postgres else SingleProcessLeader(store)

"""StateStore: alerts, events, findings, incidents, actions and audit, on SQLite or PostgreSQL.

Every method is one transaction. Writers lock what they read (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite) and take row locks in key order, so several processes
can share one database without lost updates or deadlocks. Inserts that may race use
INSERT ... ON CONFLICT DO NOTHING and then read the winner's row.

Rows returned are detached snapshots (see `models`); times are unix seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType

from foreshock.store.state import migrate
from foreshock.store.state.actions import ActionStore
from foreshock.store.state.alerts import AlertStore
from foreshock.store.state.engine import DEFAULT_PATH, create_state_engine, state_url
from foreshock.store.state.findings import FindingStore
from foreshock.store.state.incidents import IncidentStore


class StateStore(AlertStore, FindingStore, IncidentStore, ActionStore):
    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] = DEFAULT_PATH,
        *,
        migrate_schema: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> StateStore:
        """Open a database URL or a SQLite file path, migrating its schema to head first
        (or, with migrate_schema=False, refusing a schema that is not at head)."""
        engine = create_state_engine(state_url(target))
        try:
            if migrate_schema:
                migrate.upgrade(engine)
            else:
                migrate.check(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock=clock)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

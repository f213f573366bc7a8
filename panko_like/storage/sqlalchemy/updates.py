"""Changing the traits of a stored event (update_traits).

An event's traits live in three places that one transaction changes
together: the trait tables (what filters read), the event row's
``traits`` column (what pages read) and its ``project_id`` and
``user_id`` columns (what tenant filters read); the type's rows of
``event_type_trait`` gain the names and types set. The event row is
locked first (SELECT ... FOR UPDATE; SQLite's writers hold the whole
database: see sqlite.Dialect.writing), so that concurrent updates of
one event apply one after the other, each to what the one before left.
"""

import sqlalchemy as sa
from oslo_log import log
from sqlalchemy import exc as sa_exc

from panko_like.storage import models, trait_updates
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import queries, reads, writes
from panko_like.storage.sqlalchemy import schema as t
from panko_like.storage.sqlalchemy import traits as trait_codec

LOG = log.getLogger(__name__)

#: Times an update is run again after a deadlock (MySQL, PostgreSQL).
ATTEMPTS = 3


class Updater:
    """The update half of the SQL driver.

    :param dialect: the database's Dialect.
    :param reader: the driver's reads.Reader (the traits of events
        written before revision 0004 are in the trait tables only).
    """

    def __init__(self, dialect, reader):
        self.dialect = dialect
        self.reader = reader

    def update_traits(self, event_filter, set_traits, remove,
                      max_traits=None):
        if event_filter.message_id is None:
            raise ValueError("update_traits needs a message_id")
        set_traits, remove = trait_updates.checked_update(set_traits, remove)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.dialect.writing() as conn:
                    return self._update(conn, event_filter, set_traits,
                                        remove, max_traits)
            except sa_exc.OperationalError as exc:
                if attempt == ATTEMPTS or not engine_mod.is_transient(exc):
                    raise
                LOG.info("Trait update hit a deadlock (attempt %d): %s",
                         attempt, exc.orig)

    def _update(self, conn, event_filter, set_traits, remove, max_traits):
        row = self._locked_event(conn, event_filter)
        if row is None:
            return None
        traits = trait_updates.updated_traits(
            self._current_traits(conn, row), set_traits, remove,
            max_traits)
        touched = sorted({trait.name for trait in set_traits} | set(remove))
        for table, _ in t.TABLE_DTYPES:
            conn.execute(sa.delete(table).where(
                table.c.event_id == row.id, table.c.key.in_(touched)))
        self._insert_traits(conn, row.id, set_traits)
        project_id, user_id = writes.id_columns(_Traits(traits))
        conn.execute(sa.update(t.event).where(t.event.c.id == row.id).values(
            traits=trait_codec.encode_traits(traits),
            project_id=project_id, user_id=user_id,
            updated_at=self._now()))
        self._insert_summary(conn, row.event_type_id, set_traits)
        rows = conn.execute(sa.select(*queries.EVENT_COLUMNS).where(
            t.event.c.id == row.id)).all()
        return next(reads.events_from_rows(rows, {}))

    def _locked_event(self, conn, event_filter):
        """The id, type and traits column of the event the filter finds,
        its row locked until the transaction ends."""
        conditions, _ = queries.filter_conditions(self.dialect, event_filter)
        self.dialect.lock_for_update(conn)
        return conn.execute(
            sa.select(t.event.c.id, t.event.c.event_type_id,
                      t.event.c.traits)
            .where(t.event.c.event_type_id.is_not(None), *conditions)
            .limit(1)
            .with_for_update()
        ).first()

    def _current_traits(self, conn, row):
        if row.traits is not None:
            return models.traits_from_items(
                trait_codec.load_trait_items(row.traits))
        # Written before revision 0004: only the trait tables have them.
        return self.reader.traits_of(conn, [row.id]).get(row.id, [])

    def _insert_traits(self, conn, event_id, set_traits):
        rows = writes.trait_rows_by_table([(event_id, _Traits(set_traits))])
        for table, _ in t.TABLE_DTYPES:
            if rows[table.name]:
                self.dialect.write_rows(conn, table, writes.TRAIT_COLUMNS,
                                        rows[table.name])

    def _insert_summary(self, conn, type_id, set_traits):
        pairs = sorted({(trait.name, t.STORAGE_DTYPES[trait.dtype])
                        for trait in set_traits})
        if pairs:
            conn.execute(
                self.dialect.insert_ignore(t.event_type_trait),
                [{"event_type_id": type_id, "key": key, "dtype": dtype}
                 for key, dtype in pairs])

    def _now(self):
        # The database's clock, as for stored_at; this process's where
        # the writers stamp stored_at themselves (SQLite).
        if self.dialect.stamps_in_writer:
            return models.utc_now()
        return t.StoredNow()


class _Traits:
    """What writes' helpers read of an event: its traits."""

    __slots__ = ("traits",)

    def __init__(self, traits):
        self.traits = traits

"""Deleting events: by age (the expirer) and by filter.

Each call is one bounded transaction. The event types left without
events go with them, skipping those that a writer is using meanwhile.
"""

import datetime

import sqlalchemy as sa
from oslo_log import log

from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import queries
from panko_like.storage.sqlalchemy import schema as t

LOG = log.getLogger(__name__)


class Expiry:
    """The delete half of the SQL driver.

    :param dialect: the database's Dialect.
    """

    def __init__(self, dialect):
        self.dialect = dialect

    def clear_expired_data(self, ttl, max_count):
        if max_count < 1:
            raise ValueError("max_count must be a positive integer")
        cutoff = datetime.datetime.now(datetime.UTC).replace(
            tzinfo=None) - datetime.timedelta(seconds=ttl)
        dropped = self.dialect.expire_whole(cutoff, self.delete_orphan_types)
        if dropped:
            return dropped
        # Small transactions where the dialect asks for them (Galera
        # replicates each as one writeset): the caller asks again.
        max_count = min(max_count, self.dialect.expire_chunk or max_count)
        with self.dialect.writing() as conn:
            ids = conn.scalars(
                sa.select(t.event.c.id)
                .where(t.event.c.generated < cutoff)
                .order_by(t.event.c.generated)
                .limit(max_count)
            ).all()
            self._delete_ids(conn, ids)
            self.delete_orphan_types(conn)
        LOG.debug("Deleted %d events generated before %s", len(ids), cutoff)
        return len(ids)

    def delete_events(self, event_filter, max_count=None):
        conditions, _ = queries.filter_conditions(self.dialect, event_filter)
        query = sa.select(t.event.c.id).where(*conditions)
        if max_count is not None:
            # As the expirer's (see clear_expired_data).
            max_count = min(max_count, self.dialect.expire_chunk or max_count)
            query = query.order_by(t.event.c.id).limit(max_count)
        with self.dialect.writing() as conn:
            ids = conn.scalars(query).all()
            self._delete_ids(conn, ids)
            self.delete_orphan_types(conn)
        return len(ids)

    def _delete_ids(self, conn, ids):
        among = self.dialect.among
        for chunk in engine_mod.chunks(
                ids, max(self.dialect.delete_chunk or len(ids), 1)):
            for table, _ in t.TABLE_DTYPES:
                conn.execute(sa.delete(table).where(
                    *among(table.c.event_id, chunk)))
            conn.execute(sa.delete(t.event).where(
                *among(t.event.c.id, chunk)))
            if self.dialect.partitioned:
                conn.execute(sa.delete(t.event_message).where(
                    self.dialect.in_(t.event_message.c.event_id, chunk)))

    def delete_orphan_types(self, conn):
        """Delete the event types that no event has, and their rows of
        event_type_trait.

        A writer storing events of a type holds a shared lock on the
        type's row (its foreign key check) until it commits, and has
        written its trait types by then. Such types are skipped rather
        than waited for: the types are locked first, skipping those
        locked, then each is checked again by the deletes, which see
        what writers committed meanwhile. A writer that looked a type
        up before this deleted it fails its foreign key check, and
        stores its batch again under the type made anew (on SQLite,
        which checks none, the writer's lock keeps this from running
        meanwhile: see sqlite.Dialect.writing).
        """
        locked = conn.scalars(
            sa.select(t.event_type.c.id)
            .where(queries.no_event_of_type(t.event_type.c.id))
            .with_for_update(skip_locked=True)
        ).all()
        if not locked:
            return
        summary = t.event_type_trait
        in_ = self.dialect.in_
        for chunk in engine_mod.chunks(locked, engine_mod.IN_CHUNK):
            conn.execute(sa.delete(summary).where(
                in_(summary.c.event_type_id, chunk),
                queries.no_event_of_type(summary.c.event_type_id)))
            conn.execute(sa.delete(t.event_type).where(
                in_(t.event_type.c.id, chunk),
                queries.no_event_of_type(t.event_type.c.id)))

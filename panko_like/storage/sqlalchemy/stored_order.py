"""Reading events in stored order, for the API's live stream.

Stored order is ``(stored_at, message_id)``, walked on the
``ix_event_stored_at_message_id`` index. ``storage_now`` reads the
clock that stamps ``stored_at``: the database server's on PostgreSQL
and MySQL, so that API nodes whose clocks differ agree on it; the
writing process's on SQLite, which is only ever local.
"""

import sqlalchemy as sa

from panko_like.storage import models
from panko_like.storage.sqlalchemy import queries, reads
from panko_like.storage.sqlalchemy import schema as t


def after(position):
    """Events strictly after ``position`` (stored_at, message_id)."""
    stored_at, message_id = position
    column = t.event.c.stored_at
    return sa.or_(column > stored_at,
                  sa.and_(column == stored_at,
                          t.event.c.message_id > message_id))


class StoredOrder:
    """:param reader: the driver's reads.Reader (its dialect, retry and
    row fetching are shared)."""

    def __init__(self, reader):
        self.reader = reader
        self.dialect = reader.dialect

    def storage_now(self):
        if self.dialect.stamps_in_writer:
            return models.utc_now()
        query = sa.select(sa.type_coerce(t.StoredNow(), t.PreciseTimestamp()))
        with self.dialect.reader.connect() as conn:
            return conn.scalar(query)

    def _query(self, columns, event_filter, position, until, limit):
        conditions, _ = queries.filter_conditions(self.dialect, event_filter)
        query = (
            sa.select(*columns)
            .where(t.event.c.event_type_id.is_not(None), *conditions,
                   t.event.c.stored_at <= until)
            .order_by(t.event.c.stored_at.asc(), t.event.c.message_id.asc())
        )
        if position is not None:
            query = query.where(after(position))
        if limit is not None:
            query = query.limit(limit)
        return query

    def get_events_stored_after(self, event_filter, after_position, until,
                                limit):
        query = self._query(queries.EVENT_COLUMNS, event_filter,
                            after_position, until, limit)
        # From the primary, as the clock is read there: a standby's
        # replay lag would pass over what the horizon already covers.
        rows, traits = self.reader._fetch_chunk(self.dialect.reader, query)
        return list(reads.events_from_rows(rows, traits))

    def get_stored_keys(self, event_filter, since, until, limit):
        query = self._query((t.event.c.stored_at, t.event.c.message_id),
                            event_filter, None, until, limit)
        query = query.where(t.event.c.stored_at >= since)
        with self.dialect.reader.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


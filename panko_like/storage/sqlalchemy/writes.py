"""Writing batches of events: one transaction per batch, one statement
per table, the duplicates found with one query.

A batch is all-or-nothing per event: when the database refuses the
batch, its events are written one per transaction, so that only those
it refuses are reported and the others are stored.
"""

import operator

import sqlalchemy as sa
from oslo_log import log
from sqlalchemy import exc as sa_exc

from panko_like.storage import base, models
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import schema as t
from panko_like.storage.sqlalchemy import traits as trait_codec

LOG = log.getLogger(__name__)

#: Times a batch is retried whole after losing a race to another writer.
BATCH_ATTEMPTS = 3

#: The columns of an event row, in the order the writers give them.
EVENT_COLUMNS = (
    "id", "message_id", "generated", "raw", "event_type_id", "project_id",
    "user_id", "traits",
)
TRAIT_COLUMNS = ("event_id", "key", "value")

_NAME_AND_DTYPE = operator.attrgetter("name", "dtype")


class Writer:
    """The write half of the SQL driver.

    :param dialect: the database's Dialect.
    """

    def __init__(self, dialect):
        self.dialect = dialect

    def record_events(self, events):
        stored = self.dialect.store_streaming(events, self)
        if stored is not None:
            return stored
        rejected, accepted = base.checked_batch(
            events, lambda event, raw: (event, raw),
            self.dialect.max_raw_depth)
        if accepted:
            for part in self.dialect.transactions(accepted):
                rejected.extend(self._store(part))
        return rejected

    def _store(self, prepared):
        dialect = self.dialect
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                dialect.ensure_partitions(prepared)
                with dialect.writing() as conn:
                    return dialect.store_batch(conn, prepared, self)
            except (sa_exc.IntegrityError, engine_mod.LostRace) as exc:
                # Another writer stored one of these message_ids (or
                # removed an event type, or the expirer dropped a day's
                # partition) meanwhile: look again.
                LOG.info("Batch write lost a race (attempt %d): %s",
                         attempt, getattr(exc, "orig", exc))
                dialect.forget_partitions()
            except sa_exc.OperationalError as exc:
                if not engine_mod.is_transient(exc):
                    raise
                LOG.info("Batch write hit a deadlock (attempt %d): %s",
                         attempt, exc.orig)
            except sa_exc.DataError as exc:
                LOG.warning("Batch refused by the database: %s", exc.orig)
                break
        return self._store_one_by_one(prepared)

    def _store_one_by_one(self, prepared):
        """Isolate the events the database refuses, one per transaction."""
        rejected = []
        for item in prepared:
            try:
                self.dialect.ensure_partitions([item])
                with self.dialect.writing() as conn:
                    rejected.extend(
                        self.dialect.store_batch(conn, [item], self))
            except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
                message_id = item[0].message_id
                LOG.warning("Event %s refused: %s", message_id, exc.orig)
                rejected.append(models.Rejected(
                    message_id, models.Problem.UNKNOWN, str(exc.orig)))
        return rejected

    def store_batch(self, conn, prepared):
        """Store checked (event, raw) pairs in ``conn``'s transaction:
        the events first, then their ids read back for the traits."""
        existing = self._existing_message_ids(
            conn, [event.message_id for event, _ in prepared])
        rejected = [base.duplicate(mid, "already stored") for mid in existing]
        todo = [item for item in prepared
                if item[0].message_id not in existing]
        if not todo:
            return rejected
        type_ids = self.event_type_ids(
            conn, {event.event_type for event, _ in todo})
        ids = self._insert_events(conn, todo, type_ids)
        self._insert_traits(conn, todo, ids)
        self.insert_summary(conn, todo, type_ids)
        return rejected

    def _existing_message_ids(self, conn, message_ids):
        found = set()
        for chunk in engine_mod.chunks(message_ids, engine_mod.IN_CHUNK):
            found.update(conn.scalars(
                sa.select(t.event.c.message_id).where(
                    self.dialect.in_(t.event.c.message_id, chunk))))
        return found

    def event_type_ids(self, conn, names):
        """``{name: id}`` of these event types, made where missing."""
        names = sorted(names)
        query = sa.select(t.event_type.c.desc, t.event_type.c.id)
        ids = dict(
            conn.execute(query.where(t.event_type.c.desc.in_(names))).all())
        missing = [name for name in names if name not in ids]
        if missing:
            conn.execute(
                self.dialect.insert_ignore(t.event_type),
                [{"desc": name} for name in missing],
            )
            ids.update(conn.execute(
                query.where(t.event_type.c.desc.in_(missing))).all())
            if len(ids) < len(names):
                # Deleted by the expirer between our insert and select.
                raise engine_mod.LostRace(
                    "an event type vanished while writing")
        return ids

    def _insert_events(self, conn, todo, type_ids):
        """One multi-row INSERT, then one SELECT for the new ids."""
        columns = EVENT_COLUMNS[1:]
        rows = [event_row(event, raw, type_ids)[1:] for event, raw in todo]
        if self.dialect.stamps_in_writer:
            columns, rows = stamped(columns, rows)
        self.dialect.write_rows(conn, t.event, columns, rows)
        ids = {}
        for chunk in engine_mod.chunks(
                [event.message_id for event, _ in todo],
                engine_mod.IN_CHUNK):
            ids.update(conn.execute(
                sa.select(t.event.c.message_id, t.event.c.id).where(
                    t.event.c.message_id.in_(chunk))).all())
        return ids

    def _insert_traits(self, conn, todo, ids):
        rows = trait_rows_by_table(
            (ids[event.message_id], event) for event, _ in todo)
        for table, _ in t.TABLE_DTYPES:
            if rows[table.name]:
                self.dialect.write_rows(conn, table, TRAIT_COLUMNS,
                                        rows[table.name])

    def insert_summary(self, conn, todo, type_ids):
        """The (type, trait name, dtype) rows of event_type_trait that
        the events of ``todo`` have."""
        # Most events of a type carry the same traits: each (type, trait
        # names and types) shape is looked at once.
        shapes = {
            (event.event_type, *map(_NAME_AND_DTYPE, event.traits))
            for event, _ in todo
        }
        pairs = {
            (type_ids[event_type], name, t.STORAGE_DTYPES[dtype])
            for event_type, *traits in shapes
            for name, dtype in traits
        }
        if pairs:
            conn.execute(
                self.dialect.insert_ignore(t.event_type_trait),
                [{"event_type_id": type_id, "key": key, "dtype": dtype}
                 for type_id, key, dtype in sorted(pairs)],
            )


def stamped(columns, rows):
    """``columns`` and ``rows`` with ``stored_at``: this process's clock,
    for a database whose schema cannot default to its own (SQLite)."""
    now = models.utc_now()
    return columns + ("stored_at",), [row + (now,) for row in rows]


#: Where a trait of each dtype is kept.
_TABLE_NAMES = {dtype: table.name for dtype, table in t.TRAIT_TABLES.items()}


def trait_rows_by_table(numbered_events, rows=None):
    """``{table name: [(event_id, key, value)]}`` of (event id, event)
    pairs, added to ``rows`` when given."""
    if rows is None:
        rows = {table.name: [] for table, _ in t.TABLE_DTYPES}
    for event_id, event in numbered_events:
        for trait in event.traits:
            rows[_TABLE_NAMES[trait.dtype]].append(
                (event_id, trait.name, trait.value))
    return rows


def event_row(event, raw, type_ids, event_id=None):
    """The values of EVENT_COLUMNS of an event."""
    return (event_id, event.message_id, event.generated, raw,
            type_ids[event.event_type], *id_columns(event),
            trait_codec.encode_traits(event.traits))


def id_columns(event):
    """What ``event.project_id`` and ``event.user_id`` keep, in that
    order: see schema.event."""
    found = {}
    for trait in event.traits:
        if (trait.name in t.ID_TRAITS and trait.name not in found
                and trait.dtype in (models.NONE_TYPE, models.TEXT_TYPE)):
            value = trait.value
            fits = isinstance(value, str) and len(value) <= t.ID_COLUMN_LENGTH
            found[trait.name] = value if fits else None
    return found.get("project_id"), found.get("user_id")

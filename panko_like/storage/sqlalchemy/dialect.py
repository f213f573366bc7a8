"""What differs between the SQL databases, behind one interface.

The driver's queries, writes and deletes are written once, against
:class:`Dialect`; each database's module (``sqlite``, ``postgresql``,
``mysql``) subclasses it with that database's options and quirks. The
defaults here are plain SQL that any of them would run.
"""

import contextlib
import importlib

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import queries, schema

#: SQLAlchemy backend name -> the module of its Dialect subclass.
MODULES = {
    "sqlite": "panko_like.storage.sqlalchemy.sqlite",
    "postgresql": "panko_like.storage.sqlalchemy.postgresql",
    "mysql": "panko_like.storage.sqlalchemy.mysql",
}


def dialect_class(backend: str) -> type["Dialect"]:
    """The Dialect subclass of an SQLAlchemy backend name."""
    module = MODULES.get(backend)
    if module is None:
        return Dialect
    return importlib.import_module(module).Dialect


class Dialect:
    """A database's quirks, for one engine.

    :param engine: the engine (see engine.create_engine).
    :param conf: the service's ConfigOpts, or None.
    """

    #: Whether events live in day partitions (PostgreSQL: see
    #: partitions); the reads then bound ids to the days they read.
    partitioned = False
    #: Event ids deleted per statement.
    delete_chunk = engine_mod.IN_CHUNK
    #: Most events the expirer deletes per transaction (None: as many
    #: as it is asked to).
    expire_chunk = None

    #: Whether the writer sets event.stored_at (see writes.stamped)
    #: rather than the column's default.
    stamps_in_writer = False

    def __init__(self, engine, conf=None):
        self.engine = engine
        self.conf = conf
        #: [database] max_raw_depth (see base.Connection.max_raw_depth).
        self.max_raw_depth = storage.max_raw_depth(conf)
        #: What reads go through: each statement sees a committed
        #: snapshot, in no transaction of the driver's own.
        self.reader = engine
        #: What read-only requests go through when the database has
        #: standbys to read from (PostgreSQL's read_from_standby); None
        #: when they go through ``reader``.
        self.standby_reader = None

    def read_engine(self):
        """The engine of a read-only call now: a standby's, unless there
        is none or the caller wants its reads from the primary
        (storage.primary_reads), to see what it has just written."""
        if self.standby_reader is None or storage.primary_reads_wanted():
            return self.reader
        return self.standby_reader

    def dispose(self) -> None:
        """Close the pooled connections of every engine."""
        self.engine.dispose()
        if self.standby_reader is not None:
            self.standby_reader.engine.dispose()

    # Engine

    @classmethod
    def engine_options(cls, conf) -> dict:
        """Keyword arguments of sqlalchemy.create_engine."""
        return engine_mod.pool_options(conf)

    @classmethod
    def prepare_engine(cls, engine, conf) -> None:
        """Set the engine up once made (event listeners)."""

    @contextlib.contextmanager
    def writing(self):
        """A write transaction."""
        with self.engine.begin() as conn:
            yield conn

    def clear(self, conn) -> None:
        """Drop what the database has beside the metadata's tables."""

    def lock_for_update(self, conn) -> None:
        """Take the locks that a change of stored events (update_traits)
        takes before it reads them, in the writers' order."""

    # Writes

    def insert_ignore(self, table):
        """An INSERT into ``table`` that skips rows already there."""
        return sa.insert(table)

    def write_rows(self, conn, table, columns, rows) -> None:
        """INSERT ``rows`` (tuples of ``columns``) straight through the
        DBAPI's executemany.

        SQLAlchemy's per-row parameter handling is skipped, and only the
        columns whose type converts values (datetimes) are converted, to
        what SQLAlchemy would send (see bind_processor).
        """
        conn.exec_driver_sql(
            self.insert_head(conn, table, columns)
            + "(" + ", ".join([self.marker(conn)] * len(columns)) + ")",
            self.converted(conn, table, columns, rows),
        )

    @staticmethod
    def insert_head(conn, table, columns) -> str:
        quote = conn.dialect.identifier_preparer.quote
        return (f"INSERT INTO {quote(table.name)} "
                f"({', '.join(quote(name) for name in columns)}) VALUES ")

    @staticmethod
    def marker(conn) -> str:
        return "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def converted(self, conn, table, columns, rows):
        """``rows`` with each value converted as SQLAlchemy would bind
        it, where its column's type converts at all."""
        for at, name in enumerate(columns):
            # Only the time of an event or a datetime trait's value,
            # today: the rest of each row is copied as it is.
            processor = self.bind_processor(table.c[name], conn.dialect)
            if processor is not None:
                rows = [(*row[:at], processor(row[at]), *row[at + 1:])
                        for row in rows]
        return rows

    def bind_processor(self, column, sa_dialect):
        """What SQLAlchemy's bind processor of ``column`` does (None
        included), or None when it sends values as they are."""
        processor = column.type.dialect_impl(sa_dialect).bind_processor(
            sa_dialect)
        if processor is None:
            return None

        def process(value):
            return None if value is None else processor(value)
        return process

    def store_streaming(self, events, writer):
        """Store a batch by a faster path than checking it first, or
        return None to take the general one (see writes.Writer)."""
        return None

    def transactions(self, prepared) -> list[list]:
        """A checked batch of (event, raw), in the parts to write in a
        transaction each."""
        return [prepared]

    def store_batch(self, conn, prepared, writer):
        """Store checked events in ``conn``'s transaction; return the
        rejections of those already stored."""
        return writer.store_batch(conn, prepared)

    def ensure_partitions(self, prepared) -> None:
        """Make what a batch of (event, raw) needs before its writing."""

    def forget_partitions(self) -> None:
        """Forget what ensure_partitions knew: another process changed
        it."""

    # Reads

    @staticmethod
    def in_(column, values):
        """``column IN values``."""
        return column.in_(values)

    def among(self, column, ids):
        """Conditions for ``column IN ids``."""
        return [self.in_(column, ids)]

    @staticmethod
    def message_is(message_id):
        """The event whose message_id is ``message_id`` (a value or a
        bound parameter)."""
        return schema.event.c.message_id == message_id

    def time_bounds(self, start, end):
        """More conditions for events generated in [start, end] (either
        may be None), beside the comparisons of ``generated``."""
        return []

    def text_value(self, column, op):
        """The text trait value ``column`` as ``op`` compares it."""
        return column

    def text_equal(self, column, value):
        """More conditions for ``column == value`` on text traits."""
        return []

    @staticmethod
    def period_index(column, period):
        """Which period of ``period`` seconds since the epoch the time
        ``column`` falls in, as an integer."""
        seconds = sa.cast(sa.func.strftime("%s", column), sa.BigInteger)
        # An integer division, which floors a time after the epoch.
        return seconds // sa.literal(period, sa.BigInteger)

    @staticmethod
    def typed_null(type_):
        """A NULL of ``type_`` in a UNION."""
        return sa.type_coerce(sa.null(), type_)

    def trait_types(self, conn, event_type):
        """The sorted (name, dtype) of the trait types that events of
        ``event_type`` still have (see queries.trait_types_query)."""
        rows = conn.execute(queries.trait_types_query(event_type)).all()
        return queries.found_trait_types(rows)

    # Expiry

    def expire_whole(self, cutoff, before_drop) -> int:
        """Drop what has expired as a whole (partitions); return how
        many events went."""
        return 0

"""What is special about PostgreSQL.

- Events live in day partitions (see partitions): their ids name their
  day, a time range reads only its days' partitions, and ``event_message``
  keeps message_ids unique across partitions and routes a lookup by
  message_id to its one partition.
- Rows are written by binary COPY, and a batch that looks valid is
  checked while COPY streams (store_streaming) rather than before.
- Reads run in autocommit; value lists are one array parameter; text is
  ordered by code point (COLLATE "C") whatever the database's collation.
- With ``[database] read_from_standby``, reads go through a second
  engine over the same host list, which prefers standbys.
"""

import contextlib

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect

from panko_like.storage import base, models
from panko_like.storage.sqlalchemy import (
    dialect,
    engine,
    partitions,
    queries,
    writes,
)
from panko_like.storage.sqlalchemy import schema as t

OPTS = [
    cfg.BoolOpt(
        "read_from_standby",
        default=False,
        help="PostgreSQL with a host list: send reads (event listings "
        "and lookups, counts, statistics, event types, traits) to a "
        "standby of the list, "
        "chosen at random per connection "
        "(target_session_attrs=prefer-standby, load_balance_hosts="
        "random), and writes and deletes to the primary. A standby may "
        "lag behind the primary: a client that must see its own writes "
        "sends 'Cache-Control: no-cache' with its reads. When no "
        "standby answers, reads go to the primary. Doubles the "
        "connection pools of each process.",
    ),
]

#: In place of the dumped payload of an event that store_streaming has
#: not checked beyond its head yet.
_UNCHECKED = object()

_COPY_EVENT_TYPES = (
    "int8", "varchar", "timestamp", "text", "int4", "varchar", "varchar",
    "text",
)
_COPY_TRAIT_TYPES = {
    "trait_text": ("int8", "varchar", "varchar"),
    "trait_int": ("int8", "varchar", "int8"),
    "trait_float": ("int8", "varchar", "float8"),
    "trait_datetime": ("int8", "varchar", "timestamp"),
}


class Dialect(dialect.Dialect):
    partitioned = True
    # The whole list goes as one array parameter.
    delete_chunk = None

    def __init__(self, engine, conf=None):
        super().__init__(engine, conf)
        # Reads need no transaction: each statement sees a committed
        # snapshot. psycopg would otherwise spend a round trip on BEGIN
        # and another on ROLLBACK per read.
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        if conf is not None and conf.database.read_from_standby:
            standby = _standby_engine(engine, conf)
            self.standby_reader = standby.execution_options(
                isolation_level="AUTOCOMMIT")
        self.partitions = partitions.DayPartitions(
            engine, partitions.partition_width(conf), conf)

    def clear(self, conn):
        conn.exec_driver_sql(
            f"DROP SEQUENCE IF EXISTS {partitions.EVENT_ID_SEQUENCE}")
        self.partitions.forget()

    # Writes

    def lock_for_update(self, conn):
        # The event table first, as the writers (store_batch) and the
        # partitions' droppers lock it.
        conn.exec_driver_sql("LOCK TABLE ONLY event IN ROW EXCLUSIVE MODE")

    def insert_ignore(self, table):
        return pg_dialect.insert(table).on_conflict_do_nothing()

    def ensure_partitions(self, prepared):
        self.partitions.ensure(
            {partitions.event_day(event.generated) for event, _ in prepared})

    def forget_partitions(self):
        self.partitions.forget()

    def store_streaming(self, events, writer):
        """Store a batch whose traits and payloads are checked while
        COPY streams, or return None to take the careful path.

        Most batches are valid and new. Checking each event's head
        (message_id, type, time) is enough to claim the message_ids;
        the rest of the checks and the encoding then run while the
        server writes the rows before them (see _copy_rows), instead of
        before it has anything to do. Any doubt (an event checked
        invalid, a message_id given twice, a lost race) rolls the whole
        batch back and returns None: the writer then checks every event
        first and stores the valid ones, as on other databases.
        """
        prepared = []
        seen = set()
        try:
            for event in events:
                event.validate_head()
                if event.message_id in seen:
                    return None
                seen.add(event.message_id)
                prepared.append((event, _UNCHECKED))
        except models.InvalidEvent:
            return None
        if not prepared:
            return None
        try:
            self.ensure_partitions(prepared)
            with self.engine.begin() as conn:
                return self.store_batch(conn, prepared, writer)
        except models.InvalidEvent:
            return None
        except (sa_exc.IntegrityError, engine.LostRace):
            # Perhaps a day's partition dropped by the expirer meanwhile.
            self.partitions.forget()
            return None
        except sa_exc.DataError:
            return None
        except sa_exc.OperationalError as exc:
            if not engine.is_transient(exc):
                raise
            return None

    def store_batch(self, conn, prepared, writer):
        """Claim the message_ids, then COPY every row.

        The ids are numbers of the event_id_seq sequence, each under its
        event's day (see partitions.event_id), taken in one round trip.
        The INSERT into event_message that claims them skips, set-wise,
        the message_ids already stored; a concurrent writer's claim of
        the same one makes this INSERT wait for that writer's end, so it
        cannot be stored twice.

        The event table is locked first, as readers and the partitions'
        creators and droppers lock it (see partitions.PARTITIONED),
        although the text traits are written before the events.
        """
        conn.exec_driver_sql("LOCK TABLE ONLY event IN ROW EXCLUSIVE MODE")
        numbers = conn.scalars(
            sa.text(
                f"SELECT nextval('{partitions.EVENT_ID_SEQUENCE}') "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(prepared)},
        ).all()
        ids = {
            event.message_id: partitions.event_id(
                partitions.event_day(event.generated), number)
            for (event, _), number in zip(prepared, numbers, strict=True)
        }
        claimed = set(conn.scalars(
            sa.text(
                "INSERT INTO event_message (message_id, event_id) "
                "SELECT * FROM unnest(CAST(:m AS varchar[]), "
                "CAST(:i AS bigint[])) ON CONFLICT DO NOTHING "
                "RETURNING message_id"
            ),
            {"m": list(ids), "i": list(ids.values())},
        ))
        rejected = []
        for event, raw in prepared:
            if event.message_id not in claimed:
                if raw is _UNCHECKED:
                    # As the careful path would, an invalid event is
                    # refused as invalid rather than as a duplicate.
                    _check_the_rest(event, self.max_raw_depth)
                rejected.append(
                    base.duplicate(event.message_id, "already stored"))
        todo = [item for item in prepared if item[0].message_id in claimed]
        if not todo:
            return rejected
        type_ids = writer.event_type_ids(
            conn, {event.event_type for event, _ in todo})
        _copy_rows(conn, todo, type_ids, ids, self.max_raw_depth)
        writer.insert_summary(conn, todo, type_ids)
        return rejected

    # Reads

    @staticmethod
    def in_(column, values):
        # A list of a thousand parameters costs PostgreSQL more to plan
        # than the query costs to run.
        array = pg_dialect.ARRAY(column.type)
        return column == sa.any_(sa.bindparam(None, list(values), array))

    def among(self, column, ids):
        # Also between the lowest and the highest, so that only their
        # days' partitions are read.
        return [self.in_(column, ids), column.between(min(ids), max(ids))]

    @staticmethod
    def message_is(message_id):
        # event_message names the event's id, and so its one partition.
        route = (
            sa.select(t.event_message.c.event_id)
            .where(t.event_message.c.message_id == message_id)
            .scalar_subquery()
        )
        return sa.and_(t.event.c.id == route,
                       t.event.c.message_id == message_id)

    def time_bounds(self, start, end):
        # Only the partitions of those days are read.
        bounds = []
        if start is not None:
            bounds.append(t.event.c.id >= partitions.first_id(
                partitions.event_day(start)))
        if end is not None:
            bounds.append(t.event.c.id < partitions.first_id(
                partitions.event_day(end) + 1))
        return bounds

    def text_value(self, column, op):
        # Order text by code point everywhere, whatever the database's
        # collation (SQLite and MySQL's utf8mb4_bin do).
        return column if op == "eq" else column.collate("C")

    def text_equal(self, column, value):
        # Lets PostgreSQL use its prefix index on (key, value).
        return [sa.func.left(column, t.TEXT_INDEX_PREFIX)
                == sa.func.left(sa.literal(value), t.TEXT_INDEX_PREFIX)]

    @staticmethod
    def period_index(column, period):
        seconds = sa.extract("epoch", column)
        return sa.cast(sa.func.floor(seconds / period), sa.BigInteger)

    @staticmethod
    def typed_null(type_):
        # PostgreSQL types a bare NULL in a UNION as text.
        return sa.cast(sa.null(), type_)

    def trait_types(self, conn, event_type):
        """The probes look in one day partition at a time, the newest
        first, until every row is found: planning a probe over every
        partition of two tables costs more than running it, and the
        newest day nearly always has them all. What no day partition
        has is looked for in the catch-all partition last."""
        found = set()
        for first, end, _ in reversed(partitions.partition_days(conn)):
            rows = conn.execute(queries.trait_types_query(
                event_type,
                (partitions.first_id(first), partitions.first_id(end) - 1),
            )).all()
            summary = {(name, dtype) for name, dtype, _ in rows}
            found.update(queries.found_trait_types(rows))
            if len(found) == len(summary):
                return sorted(found)
        rows = conn.execute(queries.trait_types_query(
            event_type, suffix="_default")).all()
        return sorted(found | set(queries.found_trait_types(rows)))

    # Expiry

    def expire_whole(self, cutoff, before_drop):
        # Partitions whose days have all expired go whole, whatever
        # max_count: dropping their tables takes no longer for more.
        return self.partitions.drop_expired(cutoff, self.reader, before_drop)


def _standby_engine(primary, conf):
    """An engine like ``primary`` over the same hosts, connecting to a
    standby where one answers, to any host otherwise.

    Each new connection tries the listed hosts in a random order, so
    that the connections of many processes spread over the standbys;
    psycopg tries every host as a standby first, then every host again
    as any server.
    """
    url = primary.url.update_query_dict(
        {"target_session_attrs": "prefer-standby"})
    if "load_balance_hosts" not in url.query:
        url = url.update_query_dict({"load_balance_hosts": "random"})
    engine = sa.create_engine(url, **Dialect.engine_options(conf))
    Dialect.prepare_engine(engine, conf)
    return engine


def _check_the_rest(event, max_raw_depth):
    """What Event.validate checks beyond validate_head; return the
    dumped raw payload (see Dialect.store_streaming)."""
    event.validate_traits()
    return event.dumped_raw(max_raw_depth)


def _copy_rows(conn, todo, type_ids, ids, max_raw_depth):
    """Every row of the batch by binary COPY, into the partitioned
    tables (which route each row to its day).

    The text traits, the largest table, go first: each event is checked
    (if store_streaming has not) and its rows of every table made while
    COPY streams the text traits of the events before it, so that the
    server writes while this process works. The rows of the other
    tables, made on the way, follow.
    """
    rows = {name: [] for name in _COPY_TRAIT_TYPES}
    events = []
    text_rows = rows["trait_text"]

    def text_traits():
        for event, raw in todo:
            if raw is _UNCHECKED:
                raw = _check_the_rest(event, max_raw_depth)
            event_id = ids[event.message_id]
            writes.trait_rows_by_table([(event_id, event)], rows)
            events.append(writes.event_row(event, raw, type_ids, event_id))
            yield from text_rows
            text_rows.clear()

    _copy(conn, "trait_text", writes.TRAIT_COLUMNS,
          _COPY_TRAIT_TYPES["trait_text"], text_traits())
    _copy(conn, "event", writes.EVENT_COLUMNS, _COPY_EVENT_TYPES, events)
    for name, types in _COPY_TRAIT_TYPES.items():
        if name != "trait_text" and rows[name]:
            _copy(conn, name, writes.TRAIT_COLUMNS, types, rows[name])


def _copy(conn, table, columns, types, rows):
    """COPY ``rows`` into ``table`` in binary, inside conn's transaction;
    psycopg's errors are raised as SQLAlchemy's (engine.driver_errors)."""
    statement = (
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(engine.driver_errors(conn, statement))
        cursor = stack.enter_context(
            conn.connection.driver_connection.cursor())
        copy = stack.enter_context(cursor.copy(statement))
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)

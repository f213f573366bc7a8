"""SQL storage driver: SQLite, PostgreSQL and MySQL/MariaDB.

URLs are SQLAlchemy URLs::

    sqlite:////var/lib/panko_like/events.sqlite
    postgresql+psycopg://user:password@host:5432/panko
    mysql+pymysql://user:password@host:3306/panko?charset=utf8mb4

``postgresql://`` uses psycopg 3 and ``mysql://`` PyMySQL when no DBAPI
is named. The schema is Panko's (see ``sqlalchemy/tables.py``) and is
created or migrated by alembic in :meth:`Connection.upgrade`; databases
created by Panko are adopted in place.

Writes go in bulk: one transaction per batch, one statement per table,
duplicates found with one query. Reads page through the result in
chunks with keyset pagination, so a long answer streams in constant
memory.
"""

import bisect
import contextlib
import dataclasses
import datetime
import functools
import math
import operator
import os
import sqlite3

import alembic.command
import alembic.config
import sqlalchemy as sa
from oslo_log import log
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from panko_like import storage
from panko_like.storage import base, models
from panko_like.storage.sqlalchemy import multirow, urls
from panko_like.storage.sqlalchemy import tables as t

LOG = log.getLogger(__name__)

#: Events fetched per round trip while streaming query results.
CHUNK_SIZE = 1000
#: Values per ``IN (...)`` list, below every backend's parameter limit.
IN_CHUNK = 1000
#: Events of the first page of an answer matched through a trait index,
#: read whole (see _stream_by_keys): about 12 MB of rows.
FIRST_PAGE = 5_000
#: Sort keys read at once past that page: about 12 MB of them.
KEY_CHUNK = 50_000
#: Times a batch is retried whole after losing a race to another writer.
BATCH_ATTEMPTS = 3

_OPERATORS = {
    "eq": lambda col, v: col == v,
    "ne": lambda col, v: col != v,
    "lt": lambda col, v: col < v,
    "le": lambda col, v: col <= v,
    "gt": lambda col, v: col > v,
    "ge": lambda col, v: col >= v,
}

_FILTER_TABLES = {
    "string": t.trait_text,
    "integer": t.trait_int,
    "float": t.trait_float,
    "datetime": t.trait_datetime,
}


def _chunks(items, size):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _engine_options(url: sa.engine.URL, conf) -> dict:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": 30}}
    # No pre-ping: a connection the server dropped fails its first
    # statement as a disconnect, which empties the pool and is retried
    # (base.Connection._reconnecting); a ping would cost every request
    # a round trip.
    options = {}
    db = conf.database if conf is not None else None
    if db is not None:
        options.update(
            pool_size=db.max_pool_size,
            max_overflow=db.max_overflow,
            pool_timeout=db.pool_timeout,
            pool_recycle=db.connection_recycle_time,
        )
    if backend == "mysql":
        # Refuse, never truncate, values that do not fit.
        options["connect_args"] = {
            "init_command": "SET SESSION sql_mode='TRADITIONAL'",
        }
        # A writer must see the event types another writer committed
        # after its own INSERT IGNORE skipped them (REPEATABLE READ
        # would keep showing it the snapshot without them).
        options["isolation_level"] = "READ COMMITTED"
    return options


def _sqlite_setup(conf):
    """The ``connect`` hook of an SQLite engine: WAL, checkpoints every
    ``[database] sqlite_wal_autocheckpoint`` pages, a log cut back to
    that size once checkpointed, a page cache of ``sqlite_cache_size``
    MiB."""
    if conf is None:
        pages = storage.DEFAULT_WAL_AUTOCHECKPOINT
        cache_mib = storage.DEFAULT_SQLITE_CACHE_MIB
    else:
        pages = conf.database.sqlite_wal_autocheckpoint
        cache_mib = conf.database.sqlite_cache_size

    def on_connect(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        # Without a limit, the log file keeps the size of the largest
        # transaction it ever held (an expiry, an adoption) for good.
        cursor.execute("PRAGMA page_size")
        (page_size,) = cursor.fetchone()
        cursor.execute(
            f"PRAGMA journal_size_limit={int(pages) * int(page_size)}")
        # A negative size is in KiB.
        cursor.execute(f"PRAGMA cache_size={-1024 * int(cache_mib)}")
        cursor.close()

    return on_connect


def create_engine(url: str, conf=None) -> sa.engine.Engine:
    parsed = urls.make_url(url, conf)
    try:
        engine = sa.create_engine(parsed, **_engine_options(parsed, conf))
    except sa_exc.NoSuchModuleError:
        # A driver name SQLAlchemy does not know: no retry can help.
        raise storage.UnknownDriver(
            f"SQLAlchemy has no database driver {parsed.drivername!r} "
            "(panko_like is tested with sqlite, postgresql+psycopg and "
            "mysql+pymysql)") from None
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_setup(conf))
    return engine


class Connection(base.Connection):
    """Events in Panko's SQL tables."""

    CAPABILITIES = {"events": {"query": {"simple": True}, "delete": True}}
    STORAGE_CAPABILITIES = {
        "storage": {"production_ready": True, "expiry": True}
    }

    def __init__(self, url, conf=None):
        super().__init__(url, conf)
        self.engine = create_engine(url, conf)
        self.dialect = self.engine.dialect.name
        # Reads need no transaction: each statement sees a committed
        # snapshot (READ COMMITTED, as in a transaction here). psycopg
        # would otherwise spend a round trip on BEGIN and another on
        # ROLLBACK per read; PyMySQL and sqlite3 spend none, and setting
        # autocommit would cost PyMySQL two.
        self.reader = self.engine
        if self.dialect == "postgresql":
            self.reader = self.engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
        self._partitions = None
        if self.dialect == "postgresql":
            self._partitions = _DayPartitions(
                self.engine, partition_width(conf)
            )
        # Fail now, inside get_connection_from_config's retries, rather
        # than on the first request.
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self):
        self.engine.dispose()

    def _is_unreachable(self, exc):
        # A lost host (a PostgreSQL failover, a restart): the pool has
        # dropped its connections, and a retry connects to whichever
        # listed host answers as primary.
        return _is_disconnect(exc)

    def _describe(self, exc):
        orig = getattr(exc, "orig", None)
        return super()._describe(orig or exc)

    @contextlib.contextmanager
    def _writing(self):
        """A write transaction (engine.begin()).

        On SQLite it takes the database's write lock first (BEGIN
        IMMEDIATE): what the transaction reads before its first write,
        such as an event type's id, then cannot be deleted by another
        process before it commits. SQLite checks no foreign key.
        """
        with self.engine.begin() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    # Schema

    def _alembic_config(self, conn) -> alembic.config.Config:
        cfg = alembic.config.Config()
        cfg.set_main_option(
            "script_location",
            os.path.join(os.path.dirname(t.__file__), "alembic"),
        )
        cfg.attributes["connection"] = conn
        return cfg

    def schema_state(self) -> str:
        """'empty', 'panko' (Panko's, never migrated) or 'alembic'."""
        names = set(sa.inspect(self.engine).get_table_names())
        if "alembic_version" in names:
            return "alembic"
        if {"event", "event_type", "trait_text"} <= names:
            return "panko"
        return "empty"

    def current_revision(self) -> str | None:
        from alembic.runtime import migration

        with self.engine.connect() as conn:
            return migration.MigrationContext.configure(
                conn
            ).get_current_revision()

    def upgrade(self) -> str:
        state = self.schema_state()
        before = self.current_revision() if state == "alembic" else None
        with self.engine.begin() as conn:
            cfg = self._alembic_config(conn)
            if state == "panko":
                alembic.command.stamp(cfg, "0001_panko")
                before = "0001_panko"
            alembic.command.upgrade(cfg, "head")
        after = self.current_revision()
        if state == "panko":
            return f"adopted a Panko database and migrated it to {after}"
        if state == "empty":
            return f"created the schema at revision {after}"
        if before == after:
            return f"schema already at revision {after}; nothing to do"
        return f"migrated the schema from {before} to {after}"

    def clear(self):
        with self.engine.begin() as conn:
            t.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            if self.dialect == "postgresql":
                conn.exec_driver_sql(
                    f"DROP SEQUENCE IF EXISTS {t.EVENT_ID_SEQUENCE}"
                )
                self._partitions.forget()

    # Writes

    def record_events(self, events):
        # The collector is paused while a batch is worked on (see
        # base.collector_paused), not while _reconnecting waits.
        if self._partitions is not None:
            stored = self._reconnecting(self._store_streaming, events)
            if stored is not None:
                return stored
        rejected, accepted = base.checked_batch(
            events, lambda event, raw: (event, raw))
        if accepted:
            rejected.extend(self._reconnecting(self._store, accepted))
        return rejected

    @base.pauses_collector
    def _store(self, prepared):
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                self._ensure_partitions(prepared)
                with self._writing() as conn:
                    return self._store_batch(conn, prepared)
            except (sa_exc.IntegrityError, _LostRace) as exc:
                # Another writer stored one of these message_ids (or
                # removed an event type, or the expirer dropped a day's
                # partition) meanwhile: look again.
                LOG.info("Batch write lost a race (attempt %d): %s",
                         attempt, getattr(exc, "orig", exc))
                if self._partitions is not None:
                    self._partitions.forget()
            except sa_exc.OperationalError as exc:
                if not _is_transient(exc):
                    raise
                LOG.info("Batch write hit a deadlock (attempt %d): %s",
                         attempt, exc.orig)
            except sa_exc.DataError as exc:
                LOG.warning("Batch refused by the database: %s", exc.orig)
                break
        return self._store_one_by_one(prepared)

    @base.pauses_collector
    def _store_streaming(self, events):
        """PostgreSQL: store a batch whose traits and payloads are
        checked while COPY streams, or None to take the careful path.

        Most batches are valid and new. Checking each event's head
        (message_id, type, time) is enough to claim the message_ids;
        the rest of the checks and the encoding then run while the
        server writes the rows before them (see _copy_rows), instead of
        before it has anything to do. Any doubt (an event checked
        invalid, a message_id given twice, a lost race) rolls the whole
        batch back and returns None: record_events then checks every
        event first and stores the valid ones, as on other backends.
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
            self._ensure_partitions(prepared)
            with self.engine.begin() as conn:
                return self._store_partitioned(conn, prepared)
        except models.InvalidEvent:
            return None
        except (sa_exc.IntegrityError, _LostRace):
            # Perhaps a day's partition dropped by the expirer meanwhile.
            self._partitions.forget()
            return None
        except sa_exc.DataError:
            return None
        except sa_exc.OperationalError as exc:
            if not _is_transient(exc):
                raise
            return None

    def _store_one_by_one(self, prepared):
        """Isolate the events the database refuses, one per transaction."""
        rejected = []
        for item in prepared:
            try:
                self._ensure_partitions([item])
                with self._writing() as conn:
                    rejected.extend(self._store_batch(conn, [item]))
            except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
                message_id = item[0].message_id
                LOG.warning("Event %s refused: %s", message_id, exc.orig)
                rejected.append(
                    models.Rejected(
                        message_id, models.Problem.UNKNOWN, str(exc.orig)
                    )
                )
        return rejected

    def _ensure_partitions(self, prepared):
        if self._partitions is not None:
            self._partitions.ensure(
                {t.event_day(event.generated) for event, _ in prepared}
            )

    def _store_batch(self, conn, prepared):
        if self.dialect == "postgresql":
            return self._store_partitioned(conn, prepared)
        existing = self._existing_message_ids(
            conn, [event.message_id for event, _ in prepared]
        )
        rejected = [base.duplicate(mid, "already stored") for mid in existing]
        todo = [item for item in prepared
                if item[0].message_id not in existing]
        if not todo:
            return rejected
        type_ids = self._event_type_ids(
            conn, {event.event_type for event, _ in todo}
        )
        ids = self._insert_events(conn, todo, type_ids)
        self._insert_traits(conn, todo, ids)
        self._insert_summary(conn, todo, type_ids)
        return rejected

    def _store_partitioned(self, conn, prepared):
        """PostgreSQL: claim the message_ids, then COPY every row.

        The ids are numbers of the event_id_seq sequence, each under its
        event's day (see tables.event_id), taken in one round trip. The
        INSERT into event_message that claims them skips, set-wise, the
        message_ids already stored; a concurrent writer's claim of the
        same one makes this INSERT wait for that writer's end, so it
        cannot be stored twice.
        """
        numbers = conn.scalars(
            sa.text(
                f"SELECT nextval('{t.EVENT_ID_SEQUENCE}') "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(prepared)},
        ).all()
        ids = {
            event.message_id: t.event_id(t.event_day(event.generated), number)
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
                    _check_the_rest(event)
                rejected.append(
                    base.duplicate(event.message_id, "already stored"))
        todo = [item for item in prepared if item[0].message_id in claimed]
        if not todo:
            return rejected
        type_ids = self._event_type_ids(
            conn, {event.event_type for event, _ in todo}
        )
        self._copy_rows(conn, todo, type_ids, ids)
        self._insert_summary(conn, todo, type_ids)
        return rejected

    def _existing_message_ids(self, conn, message_ids):
        found = set()
        for chunk in _chunks(message_ids, IN_CHUNK):
            found.update(
                conn.scalars(
                    sa.select(t.event.c.message_id).where(
                        _in(t.event.c.message_id, chunk, self.dialect)
                    )
                )
            )
        return found

    def _insert_ignore(self, table):
        if self.dialect == "postgresql":
            return pg_dialect.insert(table).on_conflict_do_nothing()
        if self.dialect == "sqlite":
            return sqlite_dialect.insert(table).on_conflict_do_nothing()
        if self.dialect == "mysql":
            return mysql_dialect.insert(table).prefix_with("IGNORE")
        return sa.insert(table)

    def _event_type_ids(self, conn, names):
        names = sorted(names)
        query = sa.select(t.event_type.c.desc, t.event_type.c.id)
        ids = dict(
            conn.execute(query.where(t.event_type.c.desc.in_(names))).all()
        )
        missing = [name for name in names if name not in ids]
        if missing:
            conn.execute(
                self._insert_ignore(t.event_type),
                [{"desc": name} for name in missing],
            )
            ids.update(
                conn.execute(
                    query.where(t.event_type.c.desc.in_(missing))
                ).all()
            )
            if len(ids) < len(names):
                # Deleted by the expirer between our insert and select.
                raise _LostRace("an event type vanished while writing")
        return ids

    def _insert_events(self, conn, todo, type_ids):
        """One multi-row INSERT, then one SELECT for the new ids."""
        _executemany(conn, t.event, _COPY_EVENT_COLUMNS[1:], [
            (event.message_id, event.generated, raw,
             type_ids[event.event_type], *_id_columns(event),
             t.encode_traits(event.traits))
            for event, raw in todo
        ])
        ids = {}
        for chunk in _chunks([event.message_id for event, _ in todo],
                             IN_CHUNK):
            ids.update(
                conn.execute(
                    sa.select(t.event.c.message_id, t.event.c.id).where(
                        t.event.c.message_id.in_(chunk)
                    )
                ).all()
            )
        return ids

    def _insert_traits(self, conn, todo, ids):
        rows = {table.name: [] for table, _ in t.TABLE_DTYPES}
        tables = {dtype: table.name for dtype, table in t.TRAIT_TABLES.items()}
        for event, _ in todo:
            event_id = ids[event.message_id]
            for trait in event.traits:
                rows[tables[trait.dtype]].append(
                    (event_id, trait.name, trait.value)
                )
        for table, _ in t.TABLE_DTYPES:
            if rows[table.name]:
                _executemany(conn, table, ("event_id", "key", "value"),
                             rows[table.name])

    def _copy_rows(self, conn, todo, type_ids, ids):
        """PostgreSQL: every row of the batch by binary COPY, into the
        partitioned tables (which route each row to its day).

        The text traits, the largest table, go first: each event is
        checked (if _store_streaming has not) and its rows of every
        table made while COPY streams the text traits of the events
        before it, so that the server writes while this process works.
        The rows of the other tables, made on the way, follow.
        """
        rows = {name: [] for name in _COPY_TRAIT_TYPES}
        events = []
        tables = {dtype: table.name for dtype, table in t.TRAIT_TABLES.items()}
        text_rows = rows["trait_text"]

        def text_traits():
            for event, raw in todo:
                if raw is _UNCHECKED:
                    raw = _check_the_rest(event)
                event_id = ids[event.message_id]
                for trait in event.traits:
                    rows[tables[trait.dtype]].append(
                        (event_id, trait.name, trait.value)
                    )
                events.append((
                    event_id, event.message_id, event.generated, raw,
                    type_ids[event.event_type], *_id_columns(event),
                    t.encode_traits(event.traits),
                ))
                yield from text_rows
                text_rows.clear()

        _copy(conn, "trait_text", ("event_id", "key", "value"),
              _COPY_TRAIT_TYPES["trait_text"], text_traits())
        _copy(conn, "event", _COPY_EVENT_COLUMNS, _COPY_EVENT_TYPES, events)
        for name, types in _COPY_TRAIT_TYPES.items():
            if name != "trait_text" and rows[name]:
                _copy(conn, name, ("event_id", "key", "value"), types,
                      rows[name])

    def _insert_summary(self, conn, todo, type_ids):
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
                self._insert_ignore(t.event_type_trait),
                [{"event_type_id": type_id, "key": key, "dtype": dtype}
                 for type_id, key, dtype in sorted(pairs)],
            )

    # Reads

    def _trait_condition(self, trait_filter: storage.TraitFilter,
                         anchored=False):
        """The SQL condition of one trait filter.

        ``anchored``: the filter has other conditions that an index on
        events serves. A range or ``ne`` filter then probes each candidate
        event's trait by primary key (a scalar subquery, at most one row
        since (event_id, key) is the key) instead of joining every trait
        in the range, so a page stops after its first matches.
        """
        if _in_event_column(trait_filter):
            # The event's column of that name holds every such value.
            return t.event.c[trait_filter.key] == trait_filter.value
        table = _FILTER_TABLES[trait_filter.type]
        value_col = table.c.value
        value = trait_filter.value
        if (trait_filter.type == "string" and trait_filter.op != "eq"
                and self.dialect == "postgresql"):
            # Order text by code point everywhere, whatever the
            # database's collation (SQLite and MySQL's utf8mb4_bin do).
            value_col = value_col.collate("C")
        own_trait = [
            table.c.event_id == t.event.c.id,
            table.c.key == trait_filter.key,
        ]
        if _probed(trait_filter, anchored):
            probe = sa.select(value_col).where(*own_trait).scalar_subquery()
            return _OPERATORS[trait_filter.op](probe, value)
        conditions = [table.c.key == trait_filter.key]
        if trait_filter.type == "string" and self.dialect == "postgresql" and (
                trait_filter.op == "eq"):
            # Lets PostgreSQL use its prefix index on (key, value).
            conditions.append(
                sa.func.left(value_col, t.TEXT_INDEX_PREFIX)
                == sa.func.left(sa.literal(value), t.TEXT_INDEX_PREFIX)
            )
        conditions.append(_OPERATORS[trait_filter.op](value_col, value))
        # IN rather than EXISTS: SQLite runs a correlated EXISTS once per
        # event, but reads an IN list from the (key, value) index.
        return t.event.c.id.in_(sa.select(table.c.event_id).where(*conditions))

    def _filter_conditions(self, event_filter: storage.EventFilter):
        """The SQL conditions of ``event_filter``, and whether a trait
        table's (key, value) index lists its matches (see
        _stream_by_keys)."""
        f = event_filter
        conditions = []
        partitioned = self._partitions is not None
        if f.start_timestamp is not None:
            start = models.to_naive_utc(f.start_timestamp)
            conditions.append(t.event.c.generated >= start)
            if partitioned:
                # Only the partitions of those days are read.
                conditions.append(
                    t.event.c.id >= t.first_id(t.event_day(start))
                )
        if f.end_timestamp is not None:
            end = models.to_naive_utc(f.end_timestamp)
            conditions.append(t.event.c.generated <= end)
            if partitioned:
                conditions.append(
                    t.event.c.id < t.first_id(t.event_day(end) + 1)
                )
        if f.event_type is not None:
            # A scalar subquery (desc is unique): the planner then walks
            # the (event_type_id, generated, message_id) index in order.
            conditions.append(
                t.event.c.event_type_id == _type_id(f.event_type)
            )
        if f.message_id is not None:
            conditions.append(_message_is(f.message_id, partitioned))
        anchored = bool(conditions) or f.admin_proj is not None or any(
            trait_filter.op == "eq" for trait_filter in f.traits_filter
        )
        listed = False
        for trait_filter in f.traits_filter:
            conditions.append(
                self._trait_condition(trait_filter, anchored)
            )
            listed = listed or not (_in_event_column(trait_filter)
                                    or _probed(trait_filter, anchored))
        if f.admin_proj is not None:
            conditions.append(_visible(f.admin_proj, _fits(f.admin_proj)))
        return conditions, listed

    def _find_marker(self, conditions, marker):
        with self.reader.connect() as conn:
            row = conn.execute(
                sa.select(t.event.c.generated, t.event.c.message_id).where(
                    _message_is(marker, self._partitions is not None),
                    *conditions,
                )
            ).first()
        if row is None:
            raise storage.InvalidMarker(f"marker {marker!r} not found")
        return _position(row)

    @staticmethod
    def _after(sort, position):
        """Keyset condition: rows strictly after ``position`` in ``sort``."""
        alternatives = []
        for index, (key, direction) in enumerate(sort):
            column = t.event.c[key]
            beyond = (
                column > position[key]
                if direction == "asc"
                else column < position[key]
            )
            equal = [
                t.event.c[k] == position[k] for k, _ in sort[:index]
            ]
            alternatives.append(sa.and_(*equal, beyond))
        return sa.or_(*alternatives)

    def get_events(self, event_filter, pagination=None):
        pagination = pagination or storage.Pagination()
        if pagination.marker is None and _is_lookup(event_filter):
            return self._lookup(event_filter)
        conditions, listed = self._filter_conditions(event_filter)
        position = None
        if pagination.marker is not None:
            position = self._reconnecting(
                self._find_marker, conditions, pagination.marker
            )
        if listed and (pagination.limit is None
                       or pagination.limit > CHUNK_SIZE):
            return self._stream_by_keys(conditions, pagination, position)
        return self._stream(conditions, pagination, position)

    def _lookup(self, event_filter):
        """The event ``message_id`` names, if the other filters allow it.

        Showing one event is the API's most frequent call: its query is
        built once per shape of filter (see _lookup_query) and then run
        with bound values, instead of being built and hashed anew.
        """
        f = event_filter
        params = {"message_id": f.message_id}
        for index, trait_filter in enumerate(f.traits_filter):
            params[f"filter_key_{index}"] = trait_filter.key
            params[f"filter_value_{index}"] = trait_filter.value
        if f.admin_proj is None:
            listed = None
        else:
            listed = _fits(f.admin_proj)
            params["project"] = f.admin_proj
        query = _lookup_query(
            len(f.traits_filter), listed, self._partitions is not None
        )
        rows, traits = self._reconnecting(self._fetch_chunk, query, params)
        yield from _events(rows, traits)

    def _pages(self, columns, conditions, pagination, position, chunk,
               fetch):
        """Yield ``fetch(query)`` (rows, and what else it reads) for the
        query of each page of the matching events' ``columns``, in
        order, at most ``chunk`` rows each: keyset pagination, each page
        starting after the last row of the one before."""
        remaining = pagination.limit
        order = [
            t.event.c[key].asc() if direction == "asc"
            else t.event.c[key].desc()
            for key, direction in pagination.sort
        ]
        while remaining is None or remaining > 0:
            size = chunk if remaining is None else min(remaining, chunk)
            query = (
                sa.select(*columns)
                .where(t.event.c.event_type_id.is_not(None), *conditions)
                .order_by(*order)
                .limit(size)
            )
            if position is not None:
                query = query.where(self._after(pagination.sort, position))
            rows, extra = self._reconnecting(fetch, query)
            yield rows, extra
            if len(rows) < size:
                return
            position = _position(rows[-1])
            if remaining is not None:
                remaining -= len(rows)

    def _stream(self, conditions, pagination, position):
        for rows, traits in self._pages(_EVENT_COLUMNS, conditions,
                                        pagination, position, CHUNK_SIZE,
                                        self._fetch_chunk):
            yield from _events(rows, traits)

    def _stream_by_keys(self, conditions, pagination, position):
        """_stream for a filter whose matches a trait table's (key,
        value) index lists (an IN subquery).

        The database then finds every match and sorts them for each
        query, whatever its LIMIT: reading a long answer CHUNK_SIZE
        events at a time would find them all again for every chunk.
        Instead its first FIRST_PAGE events are read in one query (most
        such answers fit), and past them the sort keys of up to
        KEY_CHUNK matches at once, then their rows by id, CHUNK_SIZE at
        a time. An event deleted meanwhile is left out; an id given
        since to another event (SQLite reuses the highest) is told by
        its message_id.
        """
        rows = []
        first = dataclasses.replace(pagination, limit=min(
            pagination.limit or FIRST_PAGE, FIRST_PAGE))
        for rows, traits in self._pages(_EVENT_COLUMNS, conditions, first,
                                        position, FIRST_PAGE,
                                        self._fetch_chunk):
            yield from _events(rows, traits)
        if len(rows) < first.limit or len(rows) == pagination.limit:
            return
        rest = dataclasses.replace(pagination, limit=(
            None if pagination.limit is None
            else pagination.limit - len(rows)
        ))
        for keys, _ in self._pages(_KEY_COLUMNS, conditions, rest,
                                   _position(rows[-1]), KEY_CHUNK,
                                   self._fetch_keys):
            for chunk in _chunks(keys, CHUNK_SIZE):
                ids = [key.id for key in chunk]
                rows, traits = self._reconnecting(
                    self._fetch_chunk,
                    sa.select(*_EVENT_COLUMNS).where(
                        *self._among(t.event.c.id, ids)
                    ),
                )
                found = {(row.id, row.message_id): row for row in rows}
                in_order = [found.get((key.id, key.message_id))
                            for key in chunk]
                yield from _events(
                    [row for row in in_order if row is not None], traits
                )

    def _fetch_keys(self, query):
        with self.reader.connect() as conn:
            return conn.execute(query).all(), None

    def _fetch_chunk(self, query, params=None):
        """Rows of events, and the traits of those without event.traits.

        Every event written since revision 0004 has its traits in its
        own row; only older writers' events are looked up in the trait
        tables.
        """
        with self.reader.connect() as conn:
            rows = conn.execute(query, params).all()
            return rows, self._traits_of(
                conn, [row.id for row in rows if row.traits is None]
            )

    def _traits_of(self, conn, event_ids):
        """Traits of these events, in one query over the four tables."""
        traits = {}
        if not event_ids:
            return traits
        for event_id, key, dtype, *values in conn.execute(
            _traits_query(event_ids, self.dialect)
        ).all():
            traits.setdefault(event_id, []).append(
                models.Trait(key, dtype, values[dtype - 1])
            )
        for items in traits.values():
            items.sort(key=lambda trait: (trait.name, trait.dtype))
        return traits

    def get_event_types(self):
        with self.reader.connect() as conn:
            names = conn.scalars(sa.select(t.event_type.c.desc))
            return sorted(name for name in names if name is not None)

    def get_trait_types(self, event_type):
        """From event_type_trait, each row checked against its table.

        A summary row may outlive the events that had it (they were
        deleted), so each is probed for one trait still there. The probe
        is a scalar subquery with LIMIT 1, which databases run per row
        and stop at the first match (an EXISTS would be planned as a
        join over every trait of the type).

        On PostgreSQL the probes look in one partition at a time, the
        newest first, until every row is found or none is left: planning
        a probe over every partition of two tables costs more than
        running it, and the newest day nearly always has them all.
        """
        with self.reader.connect() as conn:
            if self._partitions is None:
                rows = conn.execute(_trait_types_query(event_type)).all()
                return _trait_type_bodies(_found_trait_types(rows))
            found = set()
            summary = set()
            for first, end, _ in reversed(t.partition_days(conn)):
                rows = conn.execute(_trait_types_query(
                    event_type, (t.first_id(first), t.first_id(end) - 1)
                )).all()
                summary = {(name, dtype) for name, dtype, _ in rows}
                found.update(_found_trait_types(rows))
                if len(found) == len(summary):
                    break
        return _trait_type_bodies(sorted(found))

    def get_traits(self, event_type, trait_name=None):
        result = []
        with self.reader.connect() as conn:
            for table, dtype in t.TABLE_DTYPES:
                query = (
                    sa.select(table.c.key, table.c.value)
                    .join(t.event, t.event.c.id == table.c.event_id)
                    .where(t.event.c.event_type_id == _type_id(event_type))
                )
                if trait_name is not None:
                    query = query.where(table.c.key == trait_name)
                result.extend(
                    models.Trait(key, dtype, value)
                    for key, value in conn.execute(query)
                )
        return result

    # Deletes

    def _delete_ids(self, conn, ids):
        # PostgreSQL takes the whole list as one array parameter.
        size = len(ids) if self.dialect == "postgresql" else IN_CHUNK
        for chunk in _chunks(ids, max(size, 1)):
            for table, _ in t.TABLE_DTYPES:
                conn.execute(sa.delete(table).where(
                    *self._among(table.c.event_id, chunk)
                ))
            conn.execute(sa.delete(t.event).where(
                *self._among(t.event.c.id, chunk)
            ))
            if self._partitions is not None:
                conn.execute(sa.delete(t.event_message).where(
                    _in(t.event_message.c.event_id, chunk, self.dialect)
                ))

    def _among(self, column, ids):
        """``column IN ids``; on PostgreSQL also between the lowest and
        the highest, so that only their days' partitions are read."""
        conditions = [_in(column, ids, self.dialect)]
        if self._partitions is not None:
            conditions.append(column.between(min(ids), max(ids)))
        return conditions

    def _drop_expired_partitions(self, cutoff):
        """PostgreSQL: drop every partition whose days have all expired,
        then free their events' message_ids; return how many were
        freed.

        A partition holding an event that the cutoff keeps (one without
        a time, which only Panko wrote) is left to the row-by-row
        deletion.
        """
        with self.reader.connect() as conn:
            expired = [
                (first, end) for first, end, name in t.partition_days(conn)
                if t.day_start(end) <= cutoff
                and not _keeps_an_event(conn, name, cutoff)
            ]
        if not expired:
            return 0
        for first, end in expired:
            with self.engine.begin() as conn:
                # Every parent at once, in the writers' order of tables:
                # dropping a partition takes its parent whole, and no
                # writer is then midway through a batch into those days.
                conn.exec_driver_sql(
                    "LOCK TABLE "
                    + ", ".join(f"ONLY {table}" for table, _ in t.PARTITIONED)
                    + " IN ACCESS EXCLUSIVE MODE"
                )
                for table, _ in t.PARTITIONED:
                    # IF EXISTS: another expirer may have dropped it
                    # while this one waited for the lock.
                    conn.exec_driver_sql(
                        "DROP TABLE IF EXISTS "
                        + t.partition_name(table, first)
                    )
                self._delete_orphan_types(conn)
            LOG.info("Dropped the partitions of %d day(s) from %s",
                     end - first, t.day_start(first).date())
        self._partitions.forget()
        with self.engine.begin() as conn:
            count = _free_message_ids(conn, t.first_id(expired[-1][1]))
        LOG.info("Freed the message_ids of %d expired events", count)
        return count

    def _delete_orphan_types(self, conn):
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
        meanwhile: see _writing).
        """
        locked = conn.scalars(
            sa.select(t.event_type.c.id)
            .where(_no_event_of_type(t.event_type.c.id))
            .with_for_update(skip_locked=True)
        ).all()
        if not locked:
            return
        summary = t.event_type_trait
        for chunk in _chunks(locked, IN_CHUNK):
            conn.execute(sa.delete(summary).where(
                _in(summary.c.event_type_id, chunk, self.dialect),
                _no_event_of_type(summary.c.event_type_id)))
            conn.execute(sa.delete(t.event_type).where(
                _in(t.event_type.c.id, chunk, self.dialect),
                _no_event_of_type(t.event_type.c.id)))

    def clear_expired_data(self, ttl, max_count):
        if max_count < 1:
            raise ValueError("max_count must be a positive integer")
        cutoff = datetime.datetime.now(datetime.UTC).replace(
            tzinfo=None
        ) - datetime.timedelta(seconds=ttl)
        if self._partitions is not None:
            # Partitions whose days have all expired go whole, whatever
            # max_count: dropping their tables takes no longer for more.
            dropped = self._drop_expired_partitions(cutoff)
            if dropped:
                return dropped
        with self._writing() as conn:
            ids = conn.scalars(
                sa.select(t.event.c.id)
                .where(t.event.c.generated < cutoff)
                .order_by(t.event.c.generated)
                .limit(max_count)
            ).all()
            self._delete_ids(conn, ids)
            self._delete_orphan_types(conn)
        LOG.debug("Deleted %d events generated before %s", len(ids), cutoff)
        return len(ids)

    def delete_events(self, event_filter):
        conditions, _ = self._filter_conditions(event_filter)
        with self._writing() as conn:
            ids = conn.scalars(
                sa.select(t.event.c.id).where(*conditions)
            ).all()
            self._delete_ids(conn, ids)
            self._delete_orphan_types(conn)
        return len(ids)


#: About how many partitions an automatic width keeps (see
#: partition_width): few enough that a query reading them all plans
#: and locks a few hundred tables at most.
RETAINED_PARTITIONS = 60
#: The automatic width when events are kept forever.
FOREVER_WIDTH = 30


def partition_width(conf) -> int:
    """Days per PostgreSQL partition: ``[database] partition_days``, or
    when unset one chosen from ``event_time_to_live`` so that about
    RETAINED_PARTITIONS of them hold what is kept (one day each for a
    time to live of up to that many days)."""
    if conf is None:
        return 1
    db = conf.database
    if db.partition_days is not None:
        return db.partition_days
    if db.event_time_to_live <= 0:
        return FOREVER_WIDTH
    kept_days = math.ceil(db.event_time_to_live / 86400)
    return max(1, math.ceil(kept_days / RETAINED_PARTITIONS))


class _DayPartitions:
    """The day partitions of a PostgreSQL database, made as writers need
    them.

    Each covers ``width`` days, aligned on multiples of ``width`` from
    1970-01-01 and cut short where it would meet a partition made with
    another width. The days known to be covered are kept, so a batch
    whose days all have a partition costs no query.
    """

    #: pg_advisory_xact_lock key of the writers creating partitions.
    LOCK = 0x70616E6B6F  # "panko"

    def __init__(self, engine, width):
        self.engine = engine
        self.width = width
        self._ranges = []  # [(first day, day after the last)], in order

    def forget(self):
        self._ranges = []

    def _covered(self, day):
        index = bisect.bisect_right(self._ranges, (day, math.inf)) - 1
        return index >= 0 and day < self._ranges[index][1]

    def ensure(self, days):
        if all(self._covered(day) for day in days):
            return
        # A transaction of its own, committed before the batch's:
        # creating a partition locks its parent table whole, briefly.
        with self.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": self.LOCK})
            self._load(conn)
            for day in sorted(days):
                if not self._covered(day):
                    first, end = self._free_range(day)
                    LOG.info("Creating the partitions of %d day(s) "
                             "from %s", end - first,
                             t.day_start(first).date())
                    t.create_partitions(conn, first, end)
                    bisect.insort(self._ranges, (first, end))

    def _load(self, conn):
        self._ranges = [(first, end)
                        for first, end, _ in t.partition_days(conn)]

    def _free_range(self, day):
        first = day - day % self.width
        end = first + self.width
        for low, high in self._ranges:
            if high <= day:
                first = max(first, high)
            elif low > day:
                end = min(end, low)
        return first, end


#: In place of the dumped payload of an event _store_streaming has not
#: checked beyond its head yet.
_UNCHECKED = object()


def _check_the_rest(event):
    """What Event.validate checks beyond validate_head; return the
    dumped raw payload (see _store_streaming)."""
    event.validate_traits()
    return event.dumped_raw()


class _LostRace(Exception):
    """A concurrent writer changed what this batch relied on: retry."""


# MySQL deadlock and lock wait timeout; PostgreSQL deadlock and
# serialization failure. The transaction was rolled back whole.
_TRANSIENT_MYSQL = (1205, 1213)
_TRANSIENT_SQLSTATE = ("40001", "40P01")


def _no_event_of_type(type_id):
    """True where no event has the type ``type_id``.

    A scalar subquery in the order of the (event_type_id, generated,
    message_id) index, so that each type costs the first entry of that
    index in each partition. PostgreSQL plans NOT EXISTS here as an anti
    join whose inner side builds a bitmap of the type's every event in a
    partition: 1.7 s for 104 summary rows at 5,000,000 events.
    """
    first = (
        sa.select(sa.literal(1))
        .where(t.event.c.event_type_id == type_id)
        .order_by(t.event.c.generated)
        .limit(1)
        .scalar_subquery()
    )
    return first.is_(None)


def _keeps_an_event(conn, partition, cutoff):
    """Whether an event partition whose days all precede ``cutoff``
    still holds an event that it keeps: one without a time, or (were
    its id not to name its day) a later one. Each is one probe of the
    (generated, message_id) index."""
    for condition in ("generated IS NULL", "generated >= :cutoff"):
        query = sa.text(f"SELECT 1 FROM {partition} WHERE {condition} "
                        "LIMIT 1")
        if conn.execute(query, {"cutoff": cutoff}).first():
            return True
    return False


def _free_message_ids(conn, below):
    """PostgreSQL: delete, in one pass over event_message, the
    message_ids of events numbered below ``below`` that are gone; return
    how many.

    It follows the dropping of partitions rather than preceding it, so
    that no lock is held meanwhile; it also frees what an interrupted
    earlier run left. Until it ends, an expired event sent again is
    refused as a duplicate. An event kept below ``below`` (in a
    partition holding an event without a time, or in one that a late
    writer created anew) keeps its message_id: the bound on ``event``
    limits that check to the partitions below it.
    """
    return conn.execute(sa.text(
        "DELETE FROM event_message m WHERE m.event_id < :below "
        "AND NOT EXISTS (SELECT 1 FROM event e "
        "WHERE e.id = m.event_id AND e.id < :below)"
    ), {"below": below}).rowcount


def _is_transient(exc: sa_exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATE:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _TRANSIENT_MYSQL


def _is_disconnect(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError) and isinstance(
            exc.orig, sqlite3.OperationalError):
        # SQLite calls a missing table an OperationalError too; only a
        # file it cannot open is worth waiting for.
        return "unable to open" in str(exc.orig)
    # Refused connections and hosts lost mid-statement. Deadlocks are
    # OperationalErrors too, but _store retries those itself.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


def _in(column, values, dialect):
    """``column IN values``; one array parameter on PostgreSQL.

    A list of a thousand parameters costs PostgreSQL more to plan than
    the query costs to run.
    """
    if dialect == "postgresql":
        array = pg_dialect.ARRAY(column.type)
        return column == sa.any_(sa.bindparam(None, list(values), array))
    return column.in_(values)


#: The event's type name, looked up per returned row: with a join,
#: MariaDB would read the (8-row) event_type table first and sort all
#: the events of every type instead of walking an index in order. The
#: foreign key makes it never NULL.
_TYPE_NAME = (
    sa.select(t.event_type.c.desc)
    .where(t.event_type.c.id == t.event.c.event_type_id)
    .scalar_subquery()
    .label("desc")
)


#: What a page of events reads of each row.
_EVENT_COLUMNS = (
    t.event.c.id,
    t.event.c.message_id,
    t.event.c.generated,
    t.event.c.raw,
    t.event.c.traits,
    _TYPE_NAME,
)
#: What _stream_by_keys first reads of each matching event.
_KEY_COLUMNS = (t.event.c.id, t.event.c.message_id, t.event.c.generated)


def _position(row):
    """Where keyset pagination resumes after ``row``."""
    return {"generated": row.generated, "message_id": row.message_id}


def _in_event_column(trait_filter):
    """Whether the event's own column (project_id, user_id) answers
    this trait filter."""
    return (trait_filter.key in t.ID_TRAITS
            and trait_filter.type == "string"
            and trait_filter.op == "eq"
            and _fits(trait_filter.value))


def _probed(trait_filter, anchored):
    """Whether this trait filter is a probe of each candidate event's
    trait rather than a lookup in the (key, value) index (see
    Connection._trait_condition)."""
    return anchored and trait_filter.op != "eq"


def _visible(project, listed):
    """Events with this project_id trait or with none at all.

    ``project`` is a value or a bound parameter; ``listed``: whether it
    fits ``event.project_id`` (longer ones are never copied there).
    event.project_id is NULL when there is no text project_id trait, and
    also when its value is NULL or too long for the column: those few
    are told apart through trait_text.
    """
    other_project = sa.exists().where(
        t.trait_text.c.event_id == t.event.c.id,
        t.trait_text.c.key == "project_id",
        sa.or_(
            t.trait_text.c.value.is_(None),
            t.trait_text.c.value != project,
        ),
    )
    unlisted = sa.and_(t.event.c.project_id.is_(None), ~other_project)
    if not listed:
        return unlisted
    return sa.or_(t.event.c.project_id == project, unlisted)


def _message_is(message_id, partitioned):
    """The event whose message_id is ``message_id`` (a value or a bound
    parameter). ``partitioned``: PostgreSQL's day partitions, where
    event_message names the event's id, and so its one partition."""
    condition = t.event.c.message_id == message_id
    if not partitioned:
        return condition
    route = (
        sa.select(t.event_message.c.event_id)
        .where(t.event_message.c.message_id == message_id)
        .scalar_subquery()
    )
    return sa.and_(t.event.c.id == route, condition)


@functools.lru_cache(maxsize=64)
def _lookup_query(text_filters, listed, partitioned):
    """The query of Connection._lookup, for one shape of filter.

    ``text_filters``: how many string ``eq`` trait filters (bound as
    filter_key_N and filter_value_N), each checked on the event's own
    trait by primary key; ``listed``: None for no project restriction,
    else whether the bound ``project`` fits event.project_id;
    ``partitioned``: see _message_is.
    """
    conditions = [
        t.event.c.event_type_id.is_not(None),
        _message_is(sa.bindparam("message_id"), partitioned),
    ]
    for index in range(text_filters):
        conditions.append(sa.exists().where(
            t.trait_text.c.event_id == t.event.c.id,
            t.trait_text.c.key == sa.bindparam(f"filter_key_{index}"),
            t.trait_text.c.value == sa.bindparam(
                f"filter_value_{index}", type_=t.trait_text.c.value.type),
        ))
    if listed is not None:
        project = sa.bindparam("project", type_=t.trait_text.c.value.type)
        conditions.append(_visible(project, listed))
    return sa.select(*_EVENT_COLUMNS).where(*conditions)


def _is_lookup(event_filter):
    """Whether the filter is one message_id, string ``eq`` trait filters
    (a non-admin's own project and user) and a project restriction."""
    f = event_filter
    # A None value is left to the general path, which compares it as
    # SQLAlchemy does a literal None (IS NULL).
    return (f.message_id is not None and f.event_type is None
            and f.start_timestamp is None and f.end_timestamp is None
            and all(trait_filter.type == "string" and trait_filter.op == "eq"
                    and isinstance(trait_filter.value, str)
                    for trait_filter in f.traits_filter))


def _events(rows, traits):
    """models.Event of rows of _EVENT_COLUMNS (see _fetch_chunk)."""
    # Unpacked rather than read by name: a page reads 100 rows or more.
    for event_id, message_id, generated, raw, stored, type_name in rows:
        if stored is None:
            yield models.Event.from_stored(
                message_id, type_name, generated,
                traits=traits.get(event_id, []), raw_text=raw)
        else:
            yield models.Event.from_stored(
                message_id, type_name, generated,
                stored_traits=t.load_trait_items(stored), raw_text=raw)


def _trait_types_query(event_type, ids=None):
    """Each (name, dtype) of event_type_trait for ``event_type``, with an
    event_id of that type having it, or NULL. ``ids``: the lowest and
    highest event id to look among."""
    summary = t.event_type_trait
    parts = []
    for table, dtype in t.TABLE_DTYPES:
        probe = (
            sa.select(table.c.event_id)
            .join(t.event, t.event.c.id == table.c.event_id)
            .where(
                t.event.c.event_type_id == summary.c.event_type_id,
                table.c.key == summary.c.key,
            )
            .limit(1)
        )
        if ids is not None:
            # Literal bounds on both tables: the planner then keeps only
            # their partitions of those days.
            low, high = (sa.literal_column(str(int(i))) for i in ids)
            probe = probe.where(table.c.event_id.between(low, high),
                                t.event.c.id.between(low, high))
        parts.append(
            sa.select(summary.c.key, summary.c.dtype,
                      probe.scalar_subquery()).where(
                summary.c.event_type_id == _type_id(event_type),
                summary.c.dtype == dtype,
            )
        )
    return sa.union_all(*parts)


def _found_trait_types(rows):
    return sorted(
        (name, dtype) for name, dtype, found in rows if found is not None
    )


def _trait_type_bodies(pairs):
    return [{"name": name, "data_type": dtype} for name, dtype in pairs]


def _type_id(event_type):
    return (
        sa.select(t.event_type.c.id)
        .where(t.event_type.c.desc == event_type)
        .scalar_subquery()
    )


def _traits_query(event_ids, dialect):
    """event_id, key, dtype, then one value column per dtype."""
    # PostgreSQL types a bare NULL in a UNION as text.
    typed_null = sa.cast if dialect == "postgresql" else sa.type_coerce
    parts = []
    for table, dtype in t.TABLE_DTYPES:
        values = [
            table.c.value if other is table
            else typed_null(sa.null(), other.c.value.type)
            for other, _ in t.TABLE_DTYPES
        ]
        parts.append(
            sa.select(
                table.c.event_id,
                table.c.key,
                sa.literal(dtype, sa.Integer),
                *values,
            ).where(_in(table.c.event_id, event_ids, dialect))
        )
    return sa.union_all(*parts)


_NAME_AND_DTYPE = operator.attrgetter("name", "dtype")


def _fits(value):
    """Whether a trait value of ID_TRAITS is kept in the event's row."""
    return isinstance(value, str) and len(value) <= t.ID_COLUMN_LENGTH


def _id_columns(event):
    """What ``event.project_id`` and ``event.user_id`` keep, in that
    order: see tables.event."""
    found = {}
    for trait in event.traits:
        if (trait.name in t.ID_TRAITS and trait.name not in found
                and trait.dtype in (models.NONE_TYPE, models.TEXT_TYPE)):
            found[trait.name] = trait.value if _fits(trait.value) else None
    return found.get("project_id"), found.get("user_id")


_COPY_EVENT_COLUMNS = (
    "id", "message_id", "generated", "raw", "event_type_id", "project_id",
    "user_id", "traits",
)
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


def _executemany(conn, table, columns, rows):
    """INSERT ``rows`` (tuples) straight through the DBAPI's executemany.

    MySQL gets multi-row INSERTs (see multirow), sqlite3 runs one
    prepared statement; SQLAlchemy's per-row parameter handling is
    skipped, and only the columns whose type converts values
    (datetimes) are converted, to what SQLAlchemy would send (see
    _bind_processor).
    """
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    for at, name in enumerate(columns):
        # Only the time of an event or a datetime trait's value, today:
        # the rest of each row is copied as it is.
        processor = _bind_processor(table.c[name], dialect)
        if processor is not None:
            rows = [(*row[:at], processor(row[at]), *row[at + 1:])
                    for row in rows]
    head = (f"INSERT INTO {quote(table.name)} "
            f"({', '.join(quote(name) for name in columns)}) VALUES ")
    if dialect.name == "mysql":
        driver = conn.connection.driver_connection
        if multirow.applies(driver):
            with _driver_errors(conn, head + "..."), \
                    driver.cursor() as cursor:
                for statement in multirow.statements(driver, head, rows):
                    cursor.execute(statement)
            return
    conn.exec_driver_sql(
        head + f"({', '.join([marker] * len(columns))})", rows)


def _bind_processor(column, dialect):
    """What SQLAlchemy's bind processor of ``column`` does (None
    included), or None when it sends values as they are.

    On SQLite, a naive datetime (every time and datetime trait, once
    validated) is written by ``datetime.isoformat``, in C, exactly as
    SQLAlchemy's DATETIME would write it; anything else goes to
    SQLAlchemy's own processor.
    """
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    if (dialect.name == "sqlite"
            and isinstance(column.type, t.PreciseTimestamp)):
        plain = datetime.datetime

        def process(value):
            if value.__class__ is plain and value.tzinfo is None:
                return value.isoformat(" ", "microseconds")
            return processor(value)
        return process

    def process(value):
        return None if value is None else processor(value)
    return process


def _copy(conn, table, columns, types, rows):
    """COPY ``rows`` into ``table`` in binary, inside conn's transaction;
    psycopg's errors are raised as SQLAlchemy's (see _driver_errors)."""
    statement = (
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    )
    with _driver_errors(conn, statement):
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)


@contextlib.contextmanager
def _driver_errors(conn, statement):
    """Raise the DBAPI's errors of a statement sent past SQLAlchemy as
    SQLAlchemy's, as for any statement (IntegrityError when another
    writer stored one of the message_ids meanwhile, OperationalError
    when the server is lost), so that the retries of _store and
    _reconnecting apply."""
    fairy = conn.connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise sa_exc.DBAPIError.instance(
            statement, None, exc, dbapi.Error, connection_invalidated=lost
        ) from exc

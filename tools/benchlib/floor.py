"""The floor: the workload's rows written the fastest plain way the
database allows, with none of panko_like's code in the way.

The storage benchmark divides its ingestion rate by this one. The
floor writes into tables of its own (``floor_*``) in a scratch database
of its own. They have the columns and indexes of the SQL driver's
schema (Panko's tables, plus the columns and indexes the query shapes
need; on PostgreSQL, partitions of one day each, made before the clock
starts), so that both write the same rows into the same indexes. Each
database gets its fastest bulk path: binary COPY on PostgreSQL,
multi-row INSERT statements of about 1 MB on MySQL/MariaDB, sqlite3's
``executemany`` on SQLite, and on MongoDB ``insert_many`` of finished
documents into a collection indexed as the driver's. Only the writes
are timed: the rows are made beforehand.
"""

import contextlib
import datetime
import decimal
import gc
import math
import re
import time

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from panko_like.storage import models
from tools.benchlib import scratch as scratch_db
from tools.benchlib.workload import BASE, EVENT_TYPES, GAP, HALF

#: PostgreSQL: an event's id is its day (since 1970-01-01) shifted
#: left by this many bits, plus its number; each day is one partition.
DAY_SHIFT = 40
EVENT_COLUMNS = ("id", "message_id", "generated", "raw", "event_type_id",
                 "project_id", "user_id", "traits")
TRAIT_TABLES = {
    models.TEXT_TYPE: "floor_trait_text",
    models.INT_TYPE: "floor_trait_int",
    models.FLOAT_TYPE: "floor_trait_float",
    models.DATETIME_TYPE: "floor_trait_datetime",
}
#: PostgreSQL's names of the trait values' types, for binary COPY.
PG_VALUE_TYPES = {
    models.TEXT_TYPE: "varchar",
    models.INT_TYPE: "int8",
    models.FLOAT_TYPE: "float8",
    models.DATETIME_TYPE: "timestamp",
}
#: The characters a text index covers on PostgreSQL and MySQL, which
#: cap the size of an index entry.
INDEXED_PREFIX = 255
#: Bytes of one MySQL INSERT statement (a single longer row goes alone).
STATEMENT_BYTES = 1_024_000
_EPOCH = datetime.datetime(1970, 1, 1)


def _schema(dialect):
    """The floor's tables on ``dialect``."""
    metadata = sa.MetaData()
    pg = dialect == "postgresql"
    # MySQL keeps datetimes as DECIMAL seconds, as Panko did there.
    when = sa.DateTime().with_variant(mysql.DECIMAL(20, 6), "mysql")
    text = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
    event_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite", "mysql")
    mysql_args = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
    sa.Table(
        "floor_event_type", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("desc", sa.String(255), unique=True),
        **mysql_args)
    sa.Table(
        "floor_event", metadata,
        sa.Column("id", event_id, primary_key=True, autoincrement=False),
        # On PostgreSQL floor_event_message keeps it unique instead, as
        # a partitioned table takes no unique index without its key.
        sa.Column("message_id", sa.String(50), unique=not pg),
        sa.Column("generated", when),
        sa.Column("raw", text),
        sa.Column("event_type_id", sa.Integer,
                  sa.ForeignKey("floor_event_type.id")),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("traits", text),
        sa.Index("ix_floor_event_generated", "generated", "message_id"),
        sa.Index("ix_floor_event_type", "event_type_id", "generated",
                 "message_id"),
        sa.Index("ix_floor_event_project", "project_id", "generated",
                 "message_id"),
        sa.Index("ix_floor_event_user", "user_id", "project_id",
                 "generated", "message_id"),
        postgresql_partition_by="RANGE (id)",
        **mysql_args)
    if pg:
        sa.Table(
            "floor_event_message", metadata,
            sa.Column("message_id", sa.String(50), primary_key=True),
            sa.Column("event_id", sa.BigInteger, nullable=False,
                      index=True))
    value_types = {
        models.TEXT_TYPE: sa.String(models.MAX_TEXT_LENGTH),
        models.INT_TYPE: sa.BigInteger(),
        models.FLOAT_TYPE: sa.Float(53),
        models.DATETIME_TYPE: when,
    }
    for dtype, name in TRAIT_TABLES.items():
        # No foreign key on PostgreSQL, where the driver has none either
        # (dropping a day's partition would check every trait table).
        key = [] if pg else [sa.ForeignKey("floor_event.id")]
        table = sa.Table(
            name, metadata,
            sa.Column("event_id", event_id, *key, primary_key=True,
                      autoincrement=False),
            sa.Column("key", sa.String(255), primary_key=True),
            sa.Column("value", value_types[dtype]),
            postgresql_partition_by="RANGE (event_id)",
            **mysql_args)
        _key_value_index(table, dialect, dtype == models.TEXT_TYPE)
    return metadata


def _key_value_index(table, dialect, is_text):
    name = f"ix_{table.name}_key_value"
    if not is_text:
        sa.Index(name, table.c.key, table.c.value)
    elif dialect == "postgresql":
        sa.Index(name, table.c.key,
                 sa.func.left(table.c.value, INDEXED_PREFIX))
    elif dialect == "mysql":
        sa.Index(name, table.c.key, table.c.value,
                 mysql_length={"value": INDEXED_PREFIX})
    else:
        # SQLite: the event's id in the index too, so that a lookup by
        # value need not read the table.
        sa.Index(name, table.c.key, table.c.value, table.c.event_id)


def _day(value):
    return (value - _EPOCH).days


def _workload_days():
    return range(_day(BASE), _day(BASE + 2 * HALF + GAP) + 1)


def _connect(url, conf):
    """An engine on the floor's database with the driver's settings
    (those an operator sets in ``[database]``), none of its code."""
    url = scratch_db.sql_url(url)
    backend = url.get_backend_name()
    options = {"poolclass": sa.NullPool}
    if backend == "sqlite":
        options["connect_args"] = {"timeout": 30}
    elif backend == "mysql":
        options["connect_args"] = {
            "init_command": "SET SESSION sql_mode='TRADITIONAL'"}
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
    bind = sa.create_engine(url, **options)
    if backend == "sqlite":
        sa.event.listen(bind, "connect", _sqlite_pragmas(conf.database))
    return bind


def _sqlite_pragmas(database):
    pragmas = (
        "journal_mode=WAL",
        f"wal_autocheckpoint={int(database.sqlite_wal_autocheckpoint)}",
        # A negative size is in KiB.
        f"cache_size={-1024 * int(database.sqlite_cache_size)}",
    )

    def on_connect(dbapi_conn, _record):
        for pragma in pragmas:
            dbapi_conn.execute(f"PRAGMA {pragma}")

    return on_connect


def _prepare(bind):
    """The floor's tables, event types and (PostgreSQL) partitions;
    return the event type ids."""
    dialect = bind.dialect.name
    metadata = _schema(dialect)
    metadata.create_all(bind)
    type_ids = {name: index for index, name in enumerate(EVENT_TYPES, 1)}
    with bind.begin() as conn:
        conn.execute(metadata.tables["floor_event_type"].insert(),
                     [{"id": i, "desc": name}
                      for name, i in type_ids.items()])
        if dialect == "postgresql":
            for day in _workload_days():
                for table in ("floor_event", *TRAIT_TABLES.values()):
                    conn.exec_driver_sql(
                        f"CREATE TABLE {table}_p{day} PARTITION OF {table} "
                        f"FOR VALUES FROM ({day << DAY_SHIFT}) "
                        f"TO ({(day + 1) << DAY_SHIFT})")
    return type_ids


def _traits_text(traits):
    """The event row's copy of its traits: JSON ``[name, dtype, value]``
    in name order, as the driver keeps them."""
    items = sorted(([t.name, t.dtype, t.value] for t in traits),
                   key=lambda item: (item[0], item[1]))
    return orjson.dumps(items).decode()


def _rows(batch, first_id, type_ids, by_day):
    events, traits = [], {dtype: [] for dtype in TRAIT_TABLES}
    for offset, event in enumerate(batch):
        event_id = first_id + offset
        if by_day:
            event_id += _day(event.generated) << DAY_SHIFT
        values = {trait.name: trait.value for trait in event.traits}
        events.append((event_id, event.message_id, event.generated,
                       models.dump_raw(event.raw),
                       type_ids[event.event_type], values.get("project_id"),
                       values.get("user_id"), _traits_text(event.traits)))
        for trait in event.traits:
            traits[trait.dtype].append((event_id, trait.name, trait.value))
    return events, traits


@contextlib.contextmanager
def _collector_paused():
    # As the driver writes a batch: the many short-lived objects of a
    # batch are in no reference cycle, and the cyclic collector would
    # walk them all the same.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_sql(url, conf, workload, count, batch_size):
    """Write ``count`` events into the floor's tables; return seconds."""
    bind = _connect(url, conf)
    try:
        type_ids = _prepare(bind)
        dialect = bind.dialect.name
        write = {"postgresql": _copy, "mysql": _multi_row_insert}.get(
            dialect, _executemany)
        elapsed, next_id = 0.0, 1
        with bind.connect() as conn:
            dbapi = conn.connection.driver_connection
            for batch in workload.events(count, batch_size):
                events, traits = _rows(batch, next_id, type_ids,
                                       dialect == "postgresql")
                next_id += len(batch)
                start = time.perf_counter()
                with _collector_paused():
                    write(dbapi, events, traits)
                elapsed += time.perf_counter() - start
        return elapsed
    finally:
        bind.dispose()


def _copy(dbapi, events, traits):
    """PostgreSQL: binary COPY of every table, one transaction."""
    with dbapi.transaction(), dbapi.cursor() as cur:
        _copy_rows(cur, "floor_event_message", ("message_id", "event_id"),
                   ("varchar", "int8"), ((row[1], row[0]) for row in events))
        _copy_rows(cur, "floor_event", EVENT_COLUMNS,
                   ("int8", "varchar", "timestamp", "text", "int4",
                    "varchar", "varchar", "text"), events)
        for dtype, rows in traits.items():
            _copy_rows(cur, TRAIT_TABLES[dtype], ("event_id", "key", "value"),
                       ("int8", "varchar", PG_VALUE_TYPES[dtype]), rows)


def _copy_rows(cur, table, columns, types, rows):
    with cur.copy(f"COPY {table} ({', '.join(columns)}) "
                  "FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def _multi_row_insert(dbapi, events, traits):
    """MySQL: INSERT statements of many rows each, one transaction."""
    events = [(i, m, _seconds(g), r, t, p, u, j)
              for i, m, g, r, t, p, u, j in events]
    statements = list(_statements(
        dbapi, f"INSERT INTO floor_event ({', '.join(EVENT_COLUMNS)}) "
        "VALUES ", events))
    for dtype, rows in traits.items():
        if dtype == models.DATETIME_TYPE:
            rows = [(i, k, _seconds(v)) for i, k, v in rows]
        statements += _statements(
            dbapi, f"INSERT INTO {TRAIT_TABLES[dtype]} (event_id, `key`, "
            "value) VALUES ", rows)
    dbapi.begin()
    with dbapi.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    dbapi.commit()


def _seconds(value):
    micros = (value - _EPOCH) // datetime.timedelta(microseconds=1)
    return decimal.Decimal(micros).scaleb(-6)


def _statements(dbapi, head, rows):
    """``head`` followed by the VALUES of ``rows``, in statements of
    about STATEMENT_BYTES."""
    parts, size = [], len(head)
    for row in rows:
        text = "(" + ",".join([_literal(dbapi, value)
                               for value in row]) + ")"
        length = len(text) if text.isascii() else len(text.encode())
        if parts and size + length + 1 > STATEMENT_BYTES:
            yield head + ",".join(parts)
            parts, size = [], len(head)
        parts.append(text)
        size += length + 1
    if parts:
        yield head + ",".join(parts)


#: Characters that a client escapes beyond the quote and the backslash.
_SPECIAL = re.compile("[\x00\n\r\x1a]")


def _literal(dbapi, value):
    """``value`` as a MySQL literal. Plain texts and numbers are written
    here: PyMySQL escapes a text character by character, which costs
    more of the host's CPU than the server spends storing it."""
    if type(value) is str and not _SPECIAL.search(value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        text = repr(value)
        # An exponent makes it a DOUBLE literal rather than a DECIMAL.
        return text if "e" in text else text + "e0"
    if type(value) is decimal.Decimal:
        return format(value, "f")
    return dbapi.escape(value)


def _executemany(dbapi, events, traits):
    """SQLite: sqlite3's executemany, one prepared statement over every
    row of a table, one transaction."""
    with dbapi:
        dbapi.executemany(
            f"INSERT INTO floor_event ({', '.join(EVENT_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, m, _text_time(g), r, t, p, u, j)
             for i, m, g, r, t, p, u, j in events])
        for dtype, rows in traits.items():
            if dtype == models.DATETIME_TYPE:
                rows = [(i, k, _text_time(v)) for i, k, v in rows]
            dbapi.executemany(
                f'INSERT INTO {TRAIT_TABLES[dtype]} (event_id, "key", '
                "value) VALUES (?, ?, ?)", rows)


def _text_time(value):
    # How SQLAlchemy keeps a datetime in SQLite.
    return value.isoformat(" ", timespec="microseconds")


# MongoDB

#: The floor collection's indexes: those of the driver's collection.
MONGODB_INDEXES = (
    [("generated_us", 1), ("_id", 1)],
    [("event_type", 1), ("generated_us", 1), ("_id", 1)],
    [("traits.trait_name", 1), ("traits.trait_value", 1)],
)


def _micros(value):
    return (value - _EPOCH) // datetime.timedelta(microseconds=1)


def _document(event):
    traits = []
    for trait in event.traits:
        doc = {"trait_name": trait.name, "trait_type": trait.dtype,
               "trait_value": trait.value}
        if trait.dtype == models.DATETIME_TYPE:
            doc["trait_us"] = _micros(trait.value)
        traits.append(doc)
    return {"_id": event.message_id, "event_type": event.event_type,
            "timestamp": event.generated,
            "generated_us": _micros(event.generated), "traits": traits,
            "raw": models.dump_raw(event.raw)}


def load_mongodb(url, workload, count, batch_size):
    """insert_many of the finished documents; return seconds."""
    import pymongo

    client = pymongo.MongoClient(url)
    try:
        collection = client.get_default_database()["floor_event"]
        for keys in MONGODB_INDEXES:
            collection.create_index(keys)
        elapsed = 0.0
        for batch in workload.events(count, batch_size):
            documents = [_document(event) for event in batch]
            start = time.perf_counter()
            with _collector_paused():
                collection.insert_many(documents, ordered=False)
            elapsed += time.perf_counter() - start
        return elapsed
    finally:
        client.close()


def measure(scratch, workload, count, batch_size, conf):
    """The floor's figures for ``count`` events, written into a scratch
    database of its own (dropped afterwards)."""
    url = scratch.create("_floor")
    try:
        if scratch.backend == "mongodb":
            seconds = load_mongodb(url, workload, count, batch_size)
        else:
            seconds = load_sql(url, conf, workload, count, batch_size)
    finally:
        scratch.drop(url)
    return {"events": count, "seconds": round(seconds, 2),
            "events_per_s": round(count / seconds)}

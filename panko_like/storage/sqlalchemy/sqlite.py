"""What is special about SQLite.

- Each connection sets the write-ahead log, its checkpoints and its
  page cache from ``[database]`` options (on_connect).
- A write transaction takes the database's write lock first (BEGIN
  IMMEDIATE), since SQLite checks no foreign key.
- Times are written by ``datetime.isoformat``, as SQLAlchemy would.
"""

import contextlib
import datetime
import os

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.dialects import sqlite as sqlite_dialect

from panko_like.storage.sqlalchemy import dialect, schema

#: The defaults of sqlite_wal_autocheckpoint (pages) and
#: sqlite_cache_size (MiB), for engines made without a configuration.
DEFAULT_WAL_AUTOCHECKPOINT = 65536
DEFAULT_CACHE_MIB = 32

OPTS = [
    cfg.IntOpt(
        "sqlite_wal_autocheckpoint",
        default=DEFAULT_WAL_AUTOCHECKPOINT,
        min=1,
        help="SQLite: pages (of 4 KiB, SQLite's default page size) the "
        "write-ahead log may hold before a commit copies them back into "
        "the database file (PRAGMA wal_autocheckpoint). With SQLite's "
        "own default of 1,000 nearly every batch of events pays for such "
        "a copy; with the default here (a log of up to 256 MiB) a page "
        "that many batches change is copied once, and the commit that "
        "copies takes longer. A log that one large transaction made "
        "longer is cut back to this size once copied (PRAGMA "
        "journal_size_limit).",
    ),
    cfg.IntOpt(
        "sqlite_cache_size",
        default=DEFAULT_CACHE_MIB,
        min=1,
        help="SQLite: MiB of database pages each open connection may keep "
        "in memory (PRAGMA cache_size). A batch of events changes pages "
        "all over the trait indexes; with SQLite's own 2 MiB most of them "
        "are read again from the file by the next batch. The memory is "
        "taken as pages are read, up to this much per connection.",
    ),
]


def on_connect(conf):
    """The ``connect`` hook of an SQLite engine: WAL, checkpoints every
    ``[database] sqlite_wal_autocheckpoint`` pages, a log cut back to
    that size once checkpointed, a page cache of ``sqlite_cache_size``
    MiB."""
    if conf is None:
        pages, cache_mib = DEFAULT_WAL_AUTOCHECKPOINT, DEFAULT_CACHE_MIB
    else:
        pages = conf.database.sqlite_wal_autocheckpoint
        cache_mib = conf.database.sqlite_cache_size

    def setup(dbapi_conn, _record):
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

    return setup


def _create_private(path):
    """Create the database file readable by its owner only (SQLite gives
    its write-ahead log and shared-memory files the same mode), unless
    it exists or lives in memory."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        # A directory that does not exist (yet): SQLite reports it.
        pass


class Dialect(dialect.Dialect):
    # A column added to a table cannot default to SQLite's clock.
    stamps_in_writer = True

    @classmethod
    def engine_options(cls, conf):
        # A file database: no pool options; wait for another process's
        # write lock rather than fail at once.
        return {"connect_args": {"timeout": 30}}

    @classmethod
    def prepare_engine(cls, engine, conf):
        _create_private(engine.url.database)
        sa.event.listen(engine, "connect", on_connect(conf))

    @contextlib.contextmanager
    def writing(self):
        """A write transaction that takes the database's write lock
        first: what it reads before its first write, such as an event
        type's id, then cannot be deleted by another process before it
        commits. SQLite checks no foreign key."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def insert_ignore(self, table):
        return sqlite_dialect.insert(table).on_conflict_do_nothing()

    def bind_processor(self, column, sa_dialect):
        """A naive datetime (every time and datetime trait, once
        validated) is written by ``datetime.isoformat``, in C, exactly
        as SQLAlchemy's DATETIME would write it; anything else goes to
        SQLAlchemy's own processor."""
        process = super().bind_processor(column, sa_dialect)
        if process is None or not isinstance(column.type,
                                             schema.PreciseTimestamp):
            return process
        plain = datetime.datetime

        def fast(value):
            if value.__class__ is plain and value.tzinfo is None:
                return value.isoformat(" ", "microseconds")
            return process(value)
        return fast

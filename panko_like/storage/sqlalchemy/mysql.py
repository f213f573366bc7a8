"""What is special about MySQL and MariaDB.

- Sessions refuse, never truncate, values that do not fit (TRADITIONAL
  sql_mode) and read what other writers committed (READ COMMITTED).
- Text columns use the server's binary, no-pad utf8mb4 collation
  (binary_collation), so text compares by code point as elsewhere.
- Rows are written as multi-row INSERT statements written here rather
  than by PyMySQL's executemany. PyMySQL's own statements are the same,
  but it escapes every text through a per-character translation table
  in Python: for an event's ``raw`` payload, the traits' text and
  ``event.traits`` together, most of the CPU a writer spends on a batch
  (the database server, often on the same host, needs that CPU more).
  Here a text is escaped by ``str.replace`` of the two characters that a
  quoted MySQL literal must escape, backslash and the quote; a text
  with a NUL, a line break or a Ctrl-Z, which clients conventionally
  escape too, and any value of a type other than int, float, Decimal
  and None, is written by PyMySQL.
- For Galera, a batch is written in transactions of bounded size
  (WRITESET_ROWS, WRITESET_BYTES) and the expirer deletes in small
  ones; a URL may list the cluster's nodes (see mysql_hosts).
"""

import decimal
import math
import re

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect

from panko_like.storage.sqlalchemy import dialect, engine, mysql_hosts

#: Bytes of one statement, as PyMySQL's executemany bounds them (well
#: under the servers' default max_allowed_packet). A single row longer
#: than that is sent alone.
STATEMENT_BYTES = 1_024_000

#: Most rows (events and traits) and bytes (estimated: see
#: writeset_bytes) that one transaction of a batch writes. Galera
#: replicates a transaction as one writeset, which its default limits
#: allow up to 2 GiB; a large one stalls every node while it is
#: certified and applied, so a batch is written in transactions well
#: below that. A single event larger than this goes alone.
WRITESET_ROWS = 10_000
WRITESET_BYTES = 32 * 1024 * 1024

_ESCAPED_BY_PYMYSQL = re.compile("[\x00\n\r\x1a]")


def applies(driver_connection) -> bool:
    """Whether these statements may be used on this PyMySQL connection:
    not when the session has NO_BACKSLASH_ESCAPES set."""
    # PyMySQL is an extra (panko_like[mysql]): imported only when used.
    from pymysql.constants import SERVER_STATUS

    return not (driver_connection.server_status
                & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)


def literal(value, fallback):
    """``value`` as an SQL literal; ``fallback(value)`` writes what this
    does not write itself (PyMySQL's way: see statements)."""
    kind = value.__class__
    if kind is str:
        if _ESCAPED_BY_PYMYSQL.search(value) is None:
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            return "'" + escaped + "'"
    elif kind is int:
        return int.__repr__(value)
    elif value is None:
        return "NULL"
    elif kind is float:
        if math.isfinite(value):
            # As PyMySQL writes it: an exponent makes it a DOUBLE
            # literal, never a DECIMAL one.
            text = float.__repr__(value)
            return text if "e" in text else text + "e0"
    elif kind is decimal.Decimal:
        if value.is_finite():
            return format(value, "f")
    return fallback(value)


def statements(driver_connection, head, rows):
    """The INSERT statements (``head`` then VALUES lists) of ``rows``,
    each at most STATEMENT_BYTES long unless one row is longer."""
    # PyMySQL's public way to write one literal is a cursor's mogrify;
    # the cursor is closed with the generator.
    with driver_connection.cursor() as cursor:
        def fallback(value):
            return cursor.mogrify("%s", (value,))

        parts, size = [], len(head)
        for row in rows:
            text = "(" + ",".join([literal(value, fallback)
                                   for value in row]) + ")"
            length = (len(text) if text.isascii()
                      else len(text.encode("utf-8", "surrogateescape")))
            if parts and size + length + 1 > STATEMENT_BYTES:
                yield head + ",".join(parts)
                parts, size = [], len(head)
            parts.append(text)
            size += length + 1
        if parts:
            yield head + ",".join(parts)


def binary_collation(bind) -> str:
    """utf8mb4 compared by code point, trailing spaces significant."""
    if getattr(bind.dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    return "utf8mb4_0900_bin"


def writeset_bytes(event, raw) -> int:
    """About what an event adds to its transaction's writeset: its raw
    payload, and its traits twice (their tables and ``event.traits``)."""
    traits = sum(len(trait.name) + len(str(trait.value)) + 16
                 for trait in event.traits)
    return len(raw or "") + 2 * traits + 64


class Dialect(dialect.Dialect):

    #: Events the expirer deletes per transaction (Galera: see
    #: WRITESET_ROWS); it calls again until none are left.
    expire_chunk = 1000

    @classmethod
    def prepare_engine(cls, engine_, conf):
        mysql_hosts.listen(engine_, conf)
        sa.event.listen(engine_, "handle_error", engine.node_lost)

    def transactions(self, prepared):
        parts, rows, size = [[]], 0, 0
        for event, raw in prepared:
            event_rows = 1 + len(event.traits)
            event_bytes = writeset_bytes(event, raw)
            if parts[-1] and (rows + event_rows > WRITESET_ROWS
                              or size + event_bytes > WRITESET_BYTES):
                parts.append([])
                rows, size = 0, 0
            parts[-1].append((event, raw))
            rows += event_rows
            size += event_bytes
        return parts

    @classmethod
    def engine_options(cls, conf):
        return {
            **engine.pool_options(conf),
            # Refuse, never truncate, values that do not fit.
            "connect_args": {
                "init_command": "SET SESSION sql_mode='TRADITIONAL'",
            },
            # A writer must see the event types another writer committed
            # after its own INSERT IGNORE skipped them (REPEATABLE READ
            # would keep showing it the snapshot without them).
            "isolation_level": "READ COMMITTED",
        }

    @staticmethod
    def period_index(column, period):
        # Times are kept as seconds since the epoch (PreciseTimestamp).
        seconds = sa.type_coerce(column, sa.Numeric(20, 6))
        return sa.cast(sa.func.floor(seconds / period), sa.BigInteger)

    def insert_ignore(self, table):
        return mysql_dialect.insert(table).prefix_with("IGNORE")

    def write_rows(self, conn, table, columns, rows):
        driver = conn.connection.driver_connection
        if not applies(driver):
            return super().write_rows(conn, table, columns, rows)
        head = self.insert_head(conn, table, columns)
        rows = self.converted(conn, table, columns, rows)
        with engine.driver_errors(conn, head + "..."), \
                driver.cursor() as cursor:
            for statement in statements(driver, head, rows):
                cursor.execute(statement)

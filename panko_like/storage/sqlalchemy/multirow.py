"""Multi-row INSERT statements for MySQL and MariaDB, written here.

PyMySQL's ``executemany`` writes the same statements, but escapes every
text through a per-character translation table in Python: about 45 µs
for the 1 KB ``raw`` payload of an event, and most of the CPU a writer
spent on a batch (the traits' text, ``event.traits`` and the payload
together). The database server, often on the same host, needs that CPU
more. Here a text is escaped by ``str.replace`` of the two characters
that a quoted MySQL literal must escape, backslash and the quote
(about 2 µs for the same payload); a text with a NUL, a line break or
a Ctrl-Z, which clients conventionally escape too, and any value of a
type other than int, float, Decimal and None, is written by PyMySQL.
"""

import decimal
import math
import re

#: Bytes of one statement, as PyMySQL's executemany bounds them (well
#: under the servers' default max_allowed_packet). A single row longer
#: than that is sent alone.
STATEMENT_BYTES = 1_024_000

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

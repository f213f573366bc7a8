"""The SQL engine: its pool, its dialect, and what its errors mean.

Every statement of the driver goes through an engine made here, and
every error it raises is classified here: a lost server (retry, then
503), a transaction the database rolled back to break a deadlock (run
the batch again), or anything else (the caller's to handle).
"""

import contextlib
import sqlite3

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import exc as sa_exc

from panko_like import storage
from panko_like.storage.sqlalchemy import urls

OPTS = [
    cfg.IntOpt(
        "max_pool_size",
        default=5,
        min=1,
        help="Connections kept open in the SQL connection pool.",
    ),
    cfg.IntOpt(
        "max_overflow",
        default=10,
        min=0,
        help="Connections allowed above max_pool_size under load.",
    ),
    cfg.IntOpt(
        "pool_timeout",
        default=30,
        min=1,
        help="Seconds to wait for a free pooled connection.",
    ),
    cfg.IntOpt(
        "connection_recycle_time",
        default=3600,
        min=-1,
        help="Seconds after which a pooled connection is replaced; "
        "-1 never.",
    ),
]

#: Values per ``IN (...)`` list, below every backend's parameter limit.
IN_CHUNK = 1000

# MySQL deadlock and lock wait timeout; PostgreSQL deadlock and
# serialization failure. The transaction was rolled back whole.
_TRANSIENT_MYSQL = (1205, 1213)
_TRANSIENT_SQLSTATE = ("40001", "40P01")

#: MySQL's errors of a server that will not serve this connection
#: again: Galera's node outside the primary component or not yet
#: synced ("WSREP has not yet prepared node for application use"),
#: and a server shutting down. As for a lost connection, the pool is
#: emptied and the next connection goes to another listed host.
NODE_LOST_MYSQL = (1047, 1053)

#: MySQL's errors for a server out of a resource: disk full, table
#: full, out of memory (three), too many connections (two), no thread.
_RESOURCE_MYSQL = (1021, 1114, 1037, 1038, 1041, 1040, 1203, 1135)
#: MySQL's refusals of the configuration: access denied (three ways),
#: unknown database.
_REFUSED_MYSQL = (1044, 1045, 1698, 1049)
#: A table the statement names does not exist: MySQL's code, the
#: SQLSTATE of PostgreSQL, the start of SQLite's message.
_NO_TABLE_MYSQL = 1146
_NO_TABLE_SQLSTATE = "42P01"
_NO_TABLE_SQLITE = "no such table"
#: What the messages of the databases and their clients say of a
#: resource they ran out of (PostgreSQL reports some of these while
#: connecting, before any SQLSTATE).
_RESOURCE_WORDS = (
    "no space left on device", "database or disk is full",
    "out of shared memory", "out of memory", "too many clients",
    "too many connections", "remaining connection slots are reserved",
    "got error 28 ",
)
#: ... and of a configuration refused: credentials, database, host.
_REFUSED_WORDS = (
    "password authentication failed", "no password supplied",
    "no pg_hba.conf entry", "does not exist", "name or service not known",
    "could not translate host name", "failed to resolve host",
    "permission denied for database",
)


class LostRace(Exception):
    """A concurrent writer changed what this batch relied on: retry."""


def pool_options(conf) -> dict:
    """The pool of a server database, from ``[database]``.

    No pre-ping: a connection the server dropped fails its first
    statement as a disconnect, which empties the pool and is retried
    (base.Connection's resilience policy); a ping would cost every
    request a round trip.
    """
    if conf is None:
        return {}
    db = conf.database
    return {
        "pool_size": db.max_pool_size,
        "max_overflow": db.max_overflow,
        "pool_timeout": db.pool_timeout,
        "pool_recycle": db.connection_recycle_time,
    }


def create_engine(url: str, conf=None) -> sa.engine.Engine:
    """An engine for ``url``, set up as its dialect module says."""
    from panko_like.storage.sqlalchemy import dialect

    parsed = urls.make_url(url, conf)
    backend = parsed.get_backend_name()
    kind = dialect.dialect_class(backend)
    try:
        engine = sa.create_engine(parsed, **kind.engine_options(conf))
    except ImportError as exc:
        # The DBAPI module of a known driver: an extra not installed.
        raise storage.missing_package(backend, exc) from None
    except sa_exc.NoSuchModuleError:
        # A driver name SQLAlchemy does not know: no retry can help.
        raise storage.UnknownDriver(
            f"SQLAlchemy has no database driver {parsed.drivername!r} "
            "(panko_like is tested with sqlite, postgresql+psycopg and "
            "mysql+pymysql)") from None
    kind.prepare_engine(engine, conf)
    return engine


def chunks(items, size):
    """``items`` in lists of at most ``size``."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def is_transient(exc: sa_exc.DBAPIError) -> bool:
    """Whether the database rolled the transaction back to break a
    deadlock or a serialization conflict: running it again may work."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATE:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _TRANSIENT_MYSQL


def _driver_error(exc: BaseException):
    """The DBAPI's exception behind SQLAlchemy's, or None for any other
    exception (the driver's own, a bad argument): only the database's
    own words are classified."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.orig
    return None


def node_lost(context) -> None:
    """SQLAlchemy's ``handle_error`` event: a MySQL server that will not
    serve this connection again (NODE_LOST_MYSQL) is treated as a lost
    connection, which empties the pool."""
    if _mysql_code(context.original_exception) in NODE_LOST_MYSQL:
        context.is_disconnect = True


def _mysql_code(error) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def resource_problem(exc: BaseException) -> str | None:
    """What the database ran out of, when ``exc`` says so (its SQLSTATE
    class 53, MySQL's codes, or the messages of SQLite and of a
    connection refused); None otherwise."""
    error = _driver_error(exc)
    if error is None:
        return None
    text = str(error).strip()
    sqlstate = getattr(error, "sqlstate", None) or ""
    if (sqlstate.startswith("53") or _mysql_code(error) in _RESOURCE_MYSQL
            or any(words in text.lower() for words in _RESOURCE_WORDS)):
        return _first_line(text)
    return None


def misconfiguration(exc: BaseException) -> str | None:
    """What of the configuration the database refused, when ``exc``
    says so (authentication, unknown database, role or host, or a
    database without the service's tables); None otherwise."""
    error = _driver_error(exc)
    if error is None:
        return None
    text = str(error).strip()
    if (getattr(error, "sqlstate", None) == _NO_TABLE_SQLSTATE
            or _mysql_code(error) == _NO_TABLE_MYSQL
            or (isinstance(error, sqlite3.OperationalError)
                and text.startswith(_NO_TABLE_SQLITE))):
        return (f"{_first_line(text)}: the database has no panko_like "
                "schema; create it with panko-like-dbsync")
    if isinstance(error, sqlite3.Error):
        return None
    sqlstate = getattr(error, "sqlstate", None) or ""
    code = _mysql_code(error)
    if code in _REFUSED_MYSQL or sqlstate.startswith("28") or (
            sqlstate in ("", "08001", "08006") and code in (None, 2003)
            and any(words in text.lower() for words in _REFUSED_WORDS)):
        return _first_line(text)
    return None


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "no reason given"


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` means the server cannot be reached now."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError) and isinstance(
            exc.orig, sqlite3.OperationalError):
        # SQLite calls a missing table an OperationalError too; only a
        # file it cannot open is worth waiting for.
        return "unable to open" in str(exc.orig)
    # Refused connections and hosts lost mid-statement. Deadlocks are
    # OperationalErrors too, but the writer retries those itself.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


@contextlib.contextmanager
def driver_errors(conn, statement):
    """Raise the DBAPI's errors of a statement sent past SQLAlchemy as
    SQLAlchemy's, as for any statement (IntegrityError when another
    writer stored one of the message_ids meanwhile, OperationalError
    when the server is lost), so that the same retries apply."""
    fairy = conn.connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = (conn.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
                or _mysql_code(exc) in NODE_LOST_MYSQL)
        if lost:
            conn.invalidate(exc)
        raise sa_exc.DBAPIError.instance(
            statement, None, exc, dbapi.Error, connection_invalidated=lost
        ) from exc

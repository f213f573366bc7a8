"""Scratch databases for the benchmarks, and what the tools ask of a
database beyond the driver's contract.

The databases are made and dropped by the tests' harness
(``tests/functional/backends.py``), on the server the tool is given:
an administrative PostgreSQL or MySQL/MariaDB URL, a ``mongodb://``
URI, ``sqlite://`` (temporary files) or ``sqlite:////path`` (that file,
kept with ``--keep``).

Beyond the contract, a tool reads the server's version and settings,
refreshes the planner's statistics after a load and counts the stored
events: each through a connection of its own to the scratch database,
never through the driver's. Counting reads Panko's ``event`` table (or
MongoDB collection), the layout panko_like keeps so that Panko's
databases can be adopted.
"""

import contextlib
import datetime
import os
import sqlite3
import time

import sqlalchemy as sa

from panko_like import storage
from tests.functional import backends
from tools.benchlib.workload import BASE

try:
    import pymongo
except ImportError:  # the mongodb extra is not installed
    pymongo = None

#: The DBAPI a URL naming none gets, as the SQL driver reads it.
DEFAULT_DBAPI = {"postgresql": "psycopg", "mysql": "pymysql"}
#: Settings shown beside the figures (see Scratch.settings).
SERVER_SETTINGS = {
    "postgresql": ("server_version", "shared_buffers", "max_wal_size",
                   "synchronous_commit", "autovacuum"),
    "mysql": ("version", "innodb_buffer_pool_size", "innodb_log_file_size",
              "innodb_flush_method", "innodb_flush_log_at_trx_commit"),
}
#: Days per PostgreSQL partition: one for each of the workload's 30
#: days, which is what a 30-day event_time_to_live gives when
#: partition_days is unset.
PARTITION_DAYS = 1


def time_to_live():
    """Seconds of ``event_time_to_live`` that keep every day of the
    workload (which starts on workload.BASE) inside the window of days
    that get partitions of their own (see the driver's partitions
    module): the events are stored as in a deployment whose events are
    that old at most."""
    age = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - BASE
    return int(age.total_seconds()) + 31 * 86400


def bench_conf(url):
    """The configuration the tools run the driver with."""
    return backends.make_conf(url, {
        ("database", "partition_days"): PARTITION_DAYS,
        ("database", "event_time_to_live"): time_to_live()})


def sql_url(text):
    """``text`` as a SQLAlchemy URL the way the driver reads it: a
    ``mariadb://`` URL is ``mysql://``, and a URL naming no DBAPI gets
    the driver's default one."""
    url = sa.make_url(text)
    backend = url.get_backend_name()
    if backend == "mariadb":
        backend = "mysql"
    if backend not in DEFAULT_DBAPI:
        return url
    dbapi = (url.drivername.partition("+")[2]
             or DEFAULT_DBAPI[backend])
    return url.set(drivername=f"{backend}+{dbapi}")


class Scratch:
    """The databases a run writes into: made on demand, dropped at the
    end unless the caller keeps one (see keep)."""

    def __init__(self, url):
        self.backend = self._backend_name(url)
        if self.backend == "mongodb":
            self.url = url
        else:
            self.url = sql_url(url).render_as_string(hide_password=False)
        self.harness = backends.for_url(self.url)
        # sqlite:////path: the user's file, not a temporary one.
        self.path = None
        if self.backend == "sqlite":
            self.path = sa.make_url(self.url).database or None
        self.created = []

    @staticmethod
    def _backend_name(url):
        scheme = storage.scheme_of(url)
        return "mysql" if scheme == "mariadb" else scheme

    def create(self, suffix=""):
        """A new empty database; ``suffix`` names the file of a given
        SQLite path (``events.sqlite_floor``)."""
        if self.path is not None:
            path = self.path + suffix
            if os.path.exists(path):
                raise SystemExit(f"{path} exists; give a new path")
            url = f"sqlite:///{path}"
        else:
            url = self.harness.create()
        self.created.append(url)
        return url

    def drop(self, url):
        self.created.remove(url)
        if self.path is None:
            self.harness.drop(url)
            return
        path = url[len("sqlite:///"):]
        for extra in ("", "-wal", "-shm"):
            if os.path.exists(path + extra):
                os.remove(path + extra)

    def keep(self, url):
        """``url`` stays when the run ends: not dropped by cleanup."""
        self.created.remove(url)

    def cleanup(self):
        for url in list(self.created):
            self.drop(url)

    def settings(self):
        """The server's version and the settings that most decide its
        speed on this workload (memory, durability), as it reports them."""
        if self.backend == "sqlite":
            return {"version": sqlite3.sqlite_version}
        if self.backend == "mongodb":
            client = pymongo.MongoClient(self.url)
            try:
                return {"version": client.server_info().get("version")}
            finally:
                client.close()
        names = SERVER_SETTINGS[self.backend]
        with _connected(self.url) as conn:
            if self.backend == "postgresql":
                return {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                        for name in names}
            row = conn.exec_driver_sql(
                "SELECT " + ", ".join(f"@@{name}" for name in names)
            ).one()
            return dict(zip(names, (str(value) for value in row),
                            strict=True))


def make_scratch(url):
    try:
        return Scratch(url)
    except (ValueError, storage.UnknownDriver, sa.exc.ArgumentError) as exc:
        raise SystemExit(f"cannot use --url {url}: {exc}") from None


def describe_server(scratch):
    """Print and return the server settings of ``scratch``: the tools'
    first words with the server, so an unreachable one ends them here
    with a one-line error."""
    errors = (sa.exc.DBAPIError,) + (
        (pymongo.errors.PyMongoError,) if pymongo else ())
    try:
        settings = scratch.settings()
    except errors as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SystemExit(f"cannot reach the {scratch.backend} server: "
                         f"{reason}") from None
    print("server: " + ", ".join(f"{name}={value}"
                                 for name, value in settings.items()),
          flush=True)
    return settings


@contextlib.contextmanager
def _connected(url, **options):
    """One connection of the tool's own to the database at ``url``."""
    bind = sa.create_engine(url, poolclass=sa.NullPool, **options)
    try:
        with bind.connect() as conn:
            yield conn
    finally:
        bind.dispose()


def analyze(url):
    """Refresh the planner's statistics of the database at ``url``, as
    autovacuum would after a bulk load (SQLite has no such daemon);
    return seconds."""
    if storage.scheme_of(url) == "mongodb":
        return 0.0  # MongoDB keeps no planner statistics to refresh
    start = time.perf_counter()
    with _connected(url, isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "mysql":
            names = sa.inspect(conn).get_table_names()
            conn.exec_driver_sql(
                "ANALYZE TABLE " + ", ".join(f"`{name}`" for name in names))
        else:
            conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def count_events(url):
    """How many events the database at ``url`` holds."""
    if storage.scheme_of(url) == "mongodb":
        client = pymongo.MongoClient(url)
        try:
            return client.get_default_database()["event"].count_documents(
                {})
        finally:
            client.close()
    with _connected(url) as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM event").scalar()

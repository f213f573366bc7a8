"""SQL storage driver: SQLite, PostgreSQL and MySQL/MariaDB.

URLs are SQLAlchemy URLs::

    sqlite:////var/lib/panko_like/events.sqlite
    postgresql+psycopg://user:password@host:5432/panko
    mysql+pymysql://user:password@host:3306/panko?charset=utf8mb4

``postgresql://`` uses psycopg 3 and ``mysql://`` PyMySQL when no DBAPI
is named; PostgreSQL also takes lists of hosts (see ``sqlalchemy/urls``).
The schema is Panko's (``sqlalchemy/schema``), created or migrated by
alembic (``sqlalchemy/migrations``); databases created by Panko are
adopted in place.

This class holds the contract and delegates: ``sqlalchemy/writes``
stores batches, ``sqlalchemy/reads`` streams answers,
``sqlalchemy/expiry`` deletes, ``sqlalchemy/updates`` changes traits,
and each database's module (``sqlalchemy/sqlite``, ``postgresql``,
``mysql``) its quirks.

Reads can go to PostgreSQL standbys (``[database] read_from_standby``):
each read-only call picks its engine once, through
``Dialect.read_engine``, and streams its whole answer from it.

Beyond the contract, every SQL database shares this administrative
interface, for the commands and the tests: :attr:`Connection.engine`
(the SQLAlchemy engine) and :meth:`Connection.schema_state`.
"""

from oslo_log import log

from panko_like.storage import base
from panko_like.storage.sqlalchemy import dialect as dialect_mod
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import (
    expiry,
    migrations,
    reads,
    schema,
    stored_order,
    updates,
    writes,
)

LOG = log.getLogger(__name__)


class Connection(base.Connection):
    """Events in Panko's SQL tables."""

    CAPABILITIES = {"events": {
        "query": {"simple": True, "count": True, "statistics": True},
        "delete": True,
        "update": True,
        "stream": True,
    }}
    STORAGE_CAPABILITIES = {
        "storage": {"production_ready": True, "expiry": True}
    }

    def __init__(self, url, conf=None):
        super().__init__(url, conf)
        #: The SQLAlchemy engine (administrative interface).
        self.engine = engine_mod.create_engine(url, conf)
        kind = dialect_mod.dialect_class(self.engine.dialect.name)
        self.dialect = kind(self.engine, conf)
        if (conf is not None and conf.database.read_from_standby
                and self.dialect.standby_reader is None):
            LOG.warning("[database] read_from_standby applies to "
                        "PostgreSQL only: %s reads go where writes go",
                        self.engine.dialect.name)
        self._writer = writes.Writer(self.dialect)
        self._reader = reads.Reader(self.dialect, self._reconnecting)
        self._expiry = expiry.Expiry(self.dialect)
        self._updater = updates.Updater(self.dialect, self._reader)
        self._stored_order = stored_order.StoredOrder(self._reader)
        self._check_reachable(self._ping, self.close)

    def _ping(self):
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self):
        self.dialect.dispose()

    def _is_unreachable(self, exc):
        # A lost host (a PostgreSQL failover, a restart): the pool has
        # dropped its connections, and a retry connects to whichever
        # listed host answers as primary.
        return engine_mod.is_disconnect(exc)

    def _resource_problem(self, exc):
        return engine_mod.resource_problem(exc)

    def _misconfiguration(self, exc):
        return engine_mod.misconfiguration(exc)

    def _describe(self, exc):
        orig = getattr(exc, "orig", None)
        return super()._describe(orig or exc)

    # Schema

    def schema_state(self) -> str:
        """'empty', 'panko' (Panko's, never migrated) or 'alembic'."""
        return migrations.schema_state(self.engine)

    def schema_version(self):
        return migrations.current_revision(self.engine)

    def upgrade(self):
        return migrations.upgrade(self.engine)

    def clear(self):
        with self.engine.begin() as conn:
            schema.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
            self.dialect.clear(conn)

    # Events

    def record_events(self, events):
        return self._writer.record_events(events)

    def get_events(self, event_filter, pagination=None):
        return self._reader.get_events(event_filter, pagination)

    def get_event_types(self):
        return self._reader.get_event_types()

    def get_trait_types(self, event_type):
        return self._reader.get_trait_types(event_type)

    def get_traits(self, event_type, trait_name=None):
        return self._reader.get_traits(event_type, trait_name)

    def clear_expired_data(self, ttl, max_count):
        return self._expiry.clear_expired_data(ttl, max_count)

    def delete_events(self, event_filter, max_count=None):
        return self._expiry.delete_events(event_filter, max_count)

    def count_events(self, event_filter):
        return self._reader.count_events(event_filter)

    def event_statistics(self, event_filter, group_by=None, period=None,
                         max_groups=None):
        return self._reader.event_statistics(
            event_filter, group_by, period, max_groups)

    def update_traits(self, event_filter, set_traits, remove,
                      max_traits=None):
        return self._updater.update_traits(
            event_filter, set_traits, remove, max_traits)

    def storage_now(self):
        return self._stored_order.storage_now()

    def get_events_stored_after(self, event_filter, after, until, limit):
        return self._stored_order.get_events_stored_after(
            event_filter, after, until, limit)

    def get_stored_keys(self, event_filter, since, until, limit=None):
        return self._stored_order.get_stored_keys(
            event_filter, since, until, limit)

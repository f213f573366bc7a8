"""What only the SQL driver has: the trait tables, its long answers,
its connection pool, SQLite's settings, and a table gone from under
the API."""

import datetime
import os

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import reads
from panko_like.storage.sqlalchemy import schema as tables
from tests.functional import api_base, backends, dataset
from tests.functional.storage.test_storage import (
    ON_H1,
    T0,
    Trait,
    ev,
    message_ids,
    store_hosts,
)


class SQLStorageScenarios:
    """What only the SQL driver has: the trait tables behind event.traits."""

    def test_events_without_a_traits_column_read_the_trait_tables(self):
        # Rows written before revision 0004, or by Panko itself after
        # adoption, have no event.traits: their traits come from the
        # trait tables, in the same order, in the same page.
        traits = [
            Trait("name", models.TEXT_TYPE, "Zürich 🚀"),
            Trait("untyped", models.NONE_TYPE, "x"),
            Trait("size", models.INT_TYPE, -(2**63)),
            Trait("ratio", models.FLOAT_TYPE, 0.1),
            Trait("at", models.DATETIME_TYPE,
                  datetime.datetime(2020, 2, 29, 23, 59, 59, 1)),
            Trait("empty", models.TEXT_TYPE, None),
        ]
        events = [
            ev(f"m-{n}", generated=T0 + datetime.timedelta(seconds=n),
               traits=traits, raw={"n": n})
            for n in range(4)
        ]
        self.assertEqual([], self.conn.record_events(events))
        with self.conn.engine.begin() as conn:
            changed = conn.execute(
                sa.update(tables.event)
                .where(tables.event.c.message_id.in_(["m-1", "m-2"]))
                .values(traits=None)
            ).rowcount
        self.assertEqual(2, changed)
        got = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(
            [dataset.normalized(e) for e in events],
            [dataset.normalized(e) for e in got],
        )
        self.assertEqual(
            [(t.name, t.dtype, t.value) for t in got[0].traits],
            [(t.name, t.dtype, t.value) for t in got[1].traits],
        )


    def test_long_trait_filtered_answer_read_by_keys(self):
        # Past its first page, such an answer reads the sort keys of its
        # matches, KEY_CHUNK at a time, then their rows by id. An event
        # deleted in between is left out, and an event stored since
        # (perhaps under an id SQLite gives again) is not read for it.
        self.patch_module("FIRST_PAGE", 300)
        self.patch_module("KEY_CHUNK", 128)
        want = store_hosts(self)
        self.assertEqual(want, message_ids(self.conn, ON_H1))
        for limit in (300, 301, 300 + 128, 1300 - 77):
            self.assertEqual(want[:limit], message_ids(
                self.conn, ON_H1, storage.Pagination(limit=limit)))

        # The newest event, last in order too (past the first page),
        # whose id SQLite gives the next event stored.
        newest = "newest"
        self.assertEqual([], self.conn.record_events([ev(
            newest, generated=T0 + datetime.timedelta(days=1), traits=[
                Trait("host", models.TEXT_TYPE, "h-1")])]))
        want.append(newest)
        fetch_keys = self.conn._reader._fetch_keys

        def meanwhile(engine, query):
            keys = fetch_keys(engine, query)
            if any(key.message_id == newest for key in keys[0]):
                self.assertEqual(1, self.conn.delete_events(
                    storage.EventFilter(message_id=newest)))
                self.assertEqual([], self.conn.record_events([
                    ev("other", generated=T0, traits=[
                        Trait("host", models.TEXT_TYPE, "h-0")])]))
            return keys

        self.conn._reader._fetch_keys = meanwhile
        self.assertEqual([m for m in want if m != newest],
                         message_ids(self.conn, ON_H1))

    def patch_module(self, name, value):
        self.addCleanup(setattr, reads, name, getattr(reads, name))
        setattr(reads, name, value)


globals().update(backends.make_test_cases(
    SQLStorageScenarios, names=backends.SQL_BACKENDS))


class ServerConnectionScenarios:
    """A database server that drops the driver's pooled connections."""

    def _drop_other_connections(self):
        with self.conn.engine.connect() as mine:
            if self.backend_name == "postgresql":
                mine.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
            else:
                ids = mine.exec_driver_sql(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                ).scalars().all()
                for connection_id in ids:
                    mine.exec_driver_sql(f"KILL {int(connection_id)}")
            # This connection goes too: every pooled one is now dead.
            mine.invalidate()

    def test_dropped_pooled_connections_are_replaced(self):
        self.assertEqual([], self.conn.record_events([ev("before")]))
        # Several idle connections in the pool, then all of them killed
        # by the server (a restart, an idle timeout, a proxy).
        held = [self.conn.engine.connect() for _ in range(3)]
        for conn in held:
            conn.exec_driver_sql("SELECT 1")
            conn.close()
        self._drop_other_connections()
        self.assertEqual(["before"], [
            e.message_id for e in self.conn.get_events(storage.EventFilter())
        ])
        self._drop_other_connections()
        self.assertEqual([], self.conn.record_events([ev("after")]))
        self.assertEqual(
            ["after", "before"],
            sorted(e.message_id
                   for e in self.conn.get_events(storage.EventFilter())),
        )


# The database servers: SQLite has no connections to drop, and each
# server has its own way to end the others' sessions.
globals().update(backends.make_test_cases(
    ServerConnectionScenarios, names=("postgresql", "mysql")))


class TestSQLiteSettings(backends.BackendTestCase):  # SQLite's pragmas
    """Each SQLite connection is in WAL mode, checkpoints every
    ``[database] sqlite_wal_autocheckpoint`` pages and keeps
    ``sqlite_cache_size`` MiB of pages."""

    backend_name = "sqlite"
    conf_overrides = {("database", "sqlite_wal_autocheckpoint"): 512,
                      ("database", "sqlite_cache_size"): 5}

    def settings(self, conn):
        return tuple(conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                     for name in ("journal_mode", "wal_autocheckpoint",
                                  "cache_size", "journal_size_limit"))

    def test_configured(self):
        # Every pooled connection, not just the first.
        held = [self.conn.engine.connect() for _ in range(3)]
        self.addCleanup(lambda: [c.close() for c in held])
        for conn in held:
            # A negative cache_size is in KiB.
            self.assertEqual(("wal", 512, -5 * 1024, 512 * 4096),
                             self.settings(conn))

    def test_log_cut_back_after_a_large_transaction(self):
        # One batch of ~6 MiB makes the log longer than the 2 MiB (512
        # pages) allowed; once checkpointed, the next write cuts it back.
        log_file = self.conn.engine.url.database + "-wal"
        filler = "x" * 20_000
        batch = [models.Event(f"big-{i}", "big", datetime.datetime(2026, 1, 1),
                              [], {"filler": filler}) for i in range(300)]
        self.assertEqual([], self.conn.record_events(batch))
        self.assertGreater(os.path.getsize(log_file), 6 * 2**20)
        self.assertEqual([], self.conn.record_events([models.Event(
            "small", "big", datetime.datetime(2026, 1, 1), [], {})]))
        self.assertLessEqual(os.path.getsize(log_file), 512 * 4096)
        self.assertEqual(301, len(list(self.conn.get_events(
            storage.EventFilter(event_type="big")))))

    def test_default(self):
        url = self.conn.engine.url.render_as_string(hide_password=False)
        for conf in (backends.make_conf(url), None):
            engine = engine_mod.create_engine(url, conf)
            self.addCleanup(engine.dispose)
            with engine.connect() as conn:
                self.assertEqual(("wal", 65536, -32 * 1024, 256 * 2**20),
                                 self.settings(conn))


class BrokenTableScenarios:
    """The API over a database that lost a table."""

    def test_storage_failure_on_first_read_is_a_json_error(self):
        # The listing's first read fails: the answer is still a JSON
        # error, since nothing was streamed yet; a missing table is the
        # schema's fault (see api/test_no_schema), not an outage.
        self.load(api_base.fixture_events())
        engine = sa.create_engine(self.url)
        self.addCleanup(engine.dispose)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE trait_text"))
        self.assertError(
            self.get("/v2/events", status=503), 503,
            "The storage refused the service's configuration; see the "
            "service log.", faultcode="Server")


globals().update(backends.make_test_cases(
    BrokenTableScenarios, base=api_base.APITestCase,
    names=backends.SQL_BACKENDS))

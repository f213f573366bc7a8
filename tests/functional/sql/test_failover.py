"""PostgreSQL host lists and a real failover.

Two throwaway PostgreSQL servers are started on free loopback ports: a
primary and a streaming-replication standby made by pg_basebackup. The
connection URL lists the standby first, so the service has to pick the
writable host itself; then the primary is killed, the standby promoted,
and writing goes on with nothing lost and nothing stored twice.
"""

import datetime

from sqlalchemy import event as sa_event

from panko_like import storage
from panko_like.storage import models
from tests.functional import pgcluster
from tests.functional.backends import make_conf


def events(start, stop):
    return [
        models.Event(f"m{i:04d}", "failover.test",
                     datetime.datetime(2026, 1, 1, 0, 0, i % 60, i),
                     [models.Trait("i", models.INT_TYPE, i)])
        for i in range(start, stop)
    ]


def serving_port(conn):
    """The port of the server ``conn`` writes to now."""
    with conn.engine.connect() as c:
        return int(c.exec_driver_sql(
            "SELECT current_setting('port')").scalar())


class TestFailover(pgcluster.PairTestCase):
    def url(self, form):
        hosts = [("127.0.0.1", self.standby.port),
                 ("127.0.0.1", self.primary.port)]
        if form == "libpq":
            listed = ",".join(f"{h}:{p}" for h, p in hosts)
            return f"postgresql://postgres@{listed}/events"
        if form == "sqlalchemy":
            query = "&".join(f"host={h}:{p}" for h, p in hosts)
            return f"postgresql+psycopg://postgres@/events?{query}"
        return ",".join(f"{h}:{p}" for h, p in hosts) + "/events"

    def connect(self, form, max_retries=20):
        url = self.url(form)
        conf = make_conf(url, {("database", "user"): "postgres",
                               ("database", "retry_interval"): 1,
                               ("database", "max_retries"): max_retries})
        conn = storage.get_connection(url, conf)
        self.addCleanup(conn.close)
        return conn

    def wait_replicated(self, count):
        self.pair.wait_replicated(count)

    def test_every_url_form_finds_the_primary(self):
        for form in ("libpq", "sqlalchemy", "bare"):
            with self.subTest(form=form):
                conn = self.connect(form)
                conn.upgrade()
                self.assertEqual(self.primary.port, serving_port(conn))

    def test_no_primary_left_is_storage_unavailable(self):
        conn = self.connect("libpq", max_retries=2)
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 10)))
        self.primary.stop()
        # Only the read-only standby answers: no host takes writes, and
        # the caller (the API: a 503) learns it instead of a driver error.
        with self.assertRaises(storage.StorageUnavailable):
            conn.record_events(events(10, 20))
        with self.assertRaises(storage.StorageUnavailable):
            list(conn.get_events(storage.EventFilter()))

    def test_writes_survive_a_failover(self):
        conn = self.connect("libpq")
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 100)))
        self.wait_replicated(100)

        self.primary.stop()
        self.standby.promote()

        # The pool still holds connections to the dead primary: the
        # write notices, reconnects to the promoted standby and goes on.
        rejected = conn.record_events(events(50, 200))
        self.assertEqual(
            [f"m{i:04d}" for i in range(50, 100)],
            sorted(r.message_id for r in rejected),
        )
        self.assertEqual({models.Problem.DUPLICATE},
                         {r.problem for r in rejected})
        stored = [e.message_id
                  for e in conn.get_events(storage.EventFilter())]
        self.assertEqual(200, len(stored))
        self.assertEqual(sorted(f"m{i:04d}" for i in range(200)),
                         sorted(stored))
        self.assertEqual(self.standby.port, serving_port(conn))

    def test_write_in_flight_during_failover(self):
        conn = self.connect("libpq")
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 10)))
        self.wait_replicated(10)
        crashed = []

        def crash_primary(_conn, _cursor, statement, *_args):
            # The primary dies after the batch's event and trait rows
            # (written by COPY), before its last statement: the
            # transaction can neither commit nor vanish silently.
            if not crashed and statement.startswith(
                    "INSERT INTO event_type_trait"):
                crashed.append(True)
                self.primary.stop()
                self.standby.promote()

        sa_event.listen(conn.engine, "before_cursor_execute", crash_primary)
        self.assertEqual([], conn.record_events(events(10, 60)))
        self.assertTrue(crashed)
        got = {e.message_id: [(t.name, t.value) for t in e.traits]
               for e in conn.get_events(storage.EventFilter())}
        self.assertEqual({f"m{i:04d}": [("i", i)] for i in range(60)}, got)

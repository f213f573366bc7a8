"""Reads on a PostgreSQL standby ([database] read_from_standby).

A primary and a streaming standby; the URL lists the primary first, so
that the reads reaching the standby are the driver's choice, not the
list's order. Reads land on the standby and writes on the primary (as
each connection's pg_is_in_recovery() says), storage.primary_reads
sends reads to the primary, and with the standby stopped reads fall
back to the primary.
"""

import os
import shutil
import tempfile
import unittest

from panko_like import storage
from tests.functional import pgcluster
from tests.functional.backends import make_conf
from tests.functional.sql.test_failover import events


def in_recovery(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar()


def message_ids(conn):
    return sorted(e.message_id for e in conn.get_events(
        storage.EventFilter()))


class TestStandbyReads(pgcluster.PairTestCase):
    def connect(self):
        url = self.pair.url(self.primary, self.standby)
        conf = make_conf(url, {("database", "read_from_standby"): True,
                               ("database", "retry_interval"): 1})
        conn = storage.get_connection(url, conf)
        self.addCleanup(conn.close)
        return conn

    def test_reads_on_the_standby_writes_on_the_primary(self):
        conn = self.connect()
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 10)))
        self.pair.wait_replicated(10)
        self.assertTrue(in_recovery(conn.dialect.read_engine()))
        self.assertFalse(in_recovery(conn.engine))
        with storage.primary_reads():
            self.assertFalse(in_recovery(conn.dialect.read_engine()))

        # The standby replays nothing more: what is written now is on
        # the primary only, and only reads from the primary see it.
        self.standby.psql("SELECT pg_wal_replay_pause()")
        self.assertEqual([], conn.record_events(events(10, 20)))
        first = [f"m{i:04d}" for i in range(10)]
        every = [f"m{i:04d}" for i in range(20)]
        self.assertEqual(first, message_ids(conn))
        with storage.primary_reads():
            self.assertEqual(every, message_ids(conn))
        self.standby.psql("SELECT pg_wal_replay_resume()")
        self.pair.wait_replicated(20)
        self.assertEqual(every, message_ids(conn))

        # Without a standby, reads fall back to the primary.
        self.standby.stop()
        self.assertEqual(every, message_ids(conn))
        self.assertEqual(["failover.test"], conn.get_event_types())
        self.assertEqual(
            [{"name": "i", "data_type": 2}],
            conn.get_trait_types("failover.test"))
        self.assertEqual(20, len(conn.get_traits("failover.test", "i")))
        self.assertFalse(in_recovery(conn.dialect.read_engine()))


class TestStandbyReadsElsewhere(unittest.TestCase):
    def test_other_databases_say_the_option_does_nothing(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        url = "sqlite:///" + os.path.join(directory, "events.sqlite")
        conf = make_conf(url, {("database", "read_from_standby"): True})
        with self.assertLogs("panko_like.storage.impl_sqlalchemy",
                             "WARNING") as logged:
            conn = storage.get_connection(url, conf)
        self.addCleanup(conn.close)
        self.assertIn("read_from_standby applies to PostgreSQL only",
                      logged.output[0])
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 3)))
        self.assertEqual(["m0000", "m0001", "m0002"], message_ids(conn))

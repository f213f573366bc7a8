"""The SQL driver on a real MariaDB Galera cluster.

Three throwaway ``mariadbd`` nodes on loopback ports form a cluster
(tests.functional.galera); the machine's own MariaDB is never touched.
The service is given a URL listing the nodes. Checked: the schema suits
Galera (the nodes refuse what it cannot replicate), Panko's database is
migrated on the cluster, a batch of any size stays within the writeset
limits, the expirer deletes in small transactions, the host list passes
over a host that is down or cut off the cluster (also with a write in
flight), and two writers on two nodes with the same message_ids neither
lose nor duplicate an event. Killing the node written to is
tests.functional.api.test_galera's.
"""

import concurrent.futures
import contextlib
import datetime
import unittest

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import mysql
from tests.functional import backends, galera
from tests.functional.galera import stored_ids
from tests.functional.sql import test_concurrency


def events(start, stop, traits=1, generated=None):
    return [
        models.Event(
            f"m{i:06d}", "galera.test",
            generated or datetime.datetime(2026, 1, 1, 0, 0, i % 60, i),
            [models.Trait(f"t{k}", models.INT_TYPE, i) for k in range(traits)],
            {"i": i})
        for i in range(start, stop)
    ]


def serving_port(conn):
    with conn.engine.connect() as c:
        return int(c.exec_driver_sql("SELECT @@port").scalar())


def pooled_ports(conn, count=3):
    """The ports of ``count`` pooled connections checked out at once."""
    with contextlib.ExitStack() as stack:
        connections = [stack.enter_context(conn.engine.connect())
                       for _ in range(count)]
        return {c.exec_driver_sql("SELECT @@port").scalar()
                for c in connections}


class TestGalera(galera.ClusterTestCase, unittest.TestCase):

    def test_schema_suits_galera(self):
        conn = self.connect()
        conn.upgrade()
        # Galera replicates rows by primary key; a table without one
        # would be refused (or replicated wrongly) by its nodes.
        without_key = self.cluster.nodes[1].query(
            "SELECT t.table_name FROM information_schema.tables t "
            "LEFT JOIN information_schema.table_constraints c "
            "ON c.table_schema = t.table_schema "
            "AND c.table_name = t.table_name "
            "AND c.constraint_type = 'PRIMARY KEY' "
            f"WHERE t.table_schema = '{self.database}' "
            "AND c.constraint_name IS NULL")
        self.assertEqual((), without_key)
        engines = self.cluster.nodes[2].query(
            "SELECT DISTINCT engine FROM information_schema.tables "
            f"WHERE table_schema = '{self.database}'")
        self.assertEqual((("InnoDB",),), engines)

    def test_a_panko_database_is_migrated(self):
        # Panko's own tables and rows, then every revision since, each
        # replicated to the other nodes as it runs.
        first, second, third = self.cluster.nodes
        backends.MySQLBackend().load_panko_copy(
            self.cluster.url(self.database, [first]))
        conn = self.connect()
        self.assertEqual("panko", conn.schema_state())
        conn.upgrade()
        self.assertEqual("alembic", conn.schema_state())
        stored = sorted(stored_ids(first, self.database))
        self.assertTrue(stored)
        self.assertEqual(stored, sorted(stored_ids(third, self.database)))
        self.assertEqual(len(stored), len(list(self.connect(
            [second]).get_events(storage.EventFilter()))))

    def test_host_list_passes_over_a_host_down(self):
        first, *others = self.cluster.nodes
        down = galera.Node(self.cluster.root, "down", galera._free_ports(4))
        conn = self.connect([down, *others])
        conn.upgrade()
        self.assertEqual(others[0].port, serving_port(conn))
        self.assertEqual([], conn.record_events(events(0, 10)))
        self.assertEqual(10, len(stored_ids(first, self.database)))

    def test_a_node_cut_off_is_passed_over(self):
        first, second, third = self.cluster.nodes
        conn = self.connect([third, first, second])
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 10)))
        self.assertEqual({third.port}, pooled_ports(conn))
        third.isolate()
        self.addCleanup(self.cluster.rejoin, third)
        third.wait_status("wsrep_ready", "OFF")
        refused = set()

        def seen(context):
            if context.original_exception.args[0] == 1047:
                refused.add(id(context.connection.connection.driver_connection))

        sa.event.listen(conn.engine, "handle_error", seen)
        # The first connection to meet error 1047 empties the whole pool,
        # not only itself, and the next ready node takes the writes.
        self.assertEqual([], conn.record_events(events(10, 20)))
        self.assertEqual(1, len(refused))
        self.assertEqual({first.port}, pooled_ports(conn))
        # A new connection passes over it too.
        other = self.connect([third, second])
        self.assertEqual(second.port, serving_port(other))
        for node in (first, second):
            self.assertEqual(20, len(stored_ids(node, self.database)))

    def test_a_write_in_flight_when_its_node_is_cut_off(self):
        first, second, third = self.cluster.nodes
        conn = self.connect([third, first, second])
        conn.upgrade()
        self.assertEqual([], conn.record_events(events(0, 10)))
        cut = []

        def cut_off(_conn, _cursor, statement, *_args):
            # After the batch's events and traits, before its last
            # statement: the transaction cannot commit on that node.
            if not cut and statement.startswith(
                    "INSERT IGNORE INTO event_type_trait"):
                cut.append(True)
                third.isolate()
                third.wait_status("wsrep_ready", "OFF")

        sa.event.listen(conn.engine, "before_cursor_execute", cut_off)
        self.addCleanup(self.cluster.rejoin, third)
        self.assertEqual([], conn.record_events(events(10, 60)))
        self.assertTrue(cut)
        for node in (first, second):
            ids = stored_ids(node, self.database)
            self.assertEqual(sorted(f"m{i:06d}" for i in range(60)),
                             sorted(ids))

    def test_a_batch_stays_within_the_writeset_limits(self):
        conn = self.connect()
        conn.upgrade()
        node = self.cluster.nodes[0]
        # A batch near Galera's default size limit (2 GiB) would take
        # too long here: its row limit, unlimited by default, is set
        # below the batch's rows instead.
        limit = 2 * mysql.WRITESET_ROWS
        node.query(f"SET GLOBAL wsrep_max_ws_rows = {limit}")
        self.addCleanup(node.query, "SET GLOBAL wsrep_max_ws_rows = 0")
        conn.close()  # new sessions read the new limit
        batch = events(0, 3000, traits=10)
        self.assertGreater(len(batch) * 11, limit)
        self.assertEqual([], conn.record_events(batch))
        for other in self.cluster.nodes:
            self.assertEqual(3000, len(stored_ids(other, self.database)))

    def test_the_expirer_deletes_in_small_transactions(self):
        conn = self.connect()
        conn.upgrade()
        old = datetime.datetime(2020, 1, 1)
        count = mysql.Dialect.expire_chunk + 500
        self.assertEqual([], conn.record_events(
            events(0, count, generated=old)))
        deleted = []
        while done := conn.clear_expired_data(3600, 10 * count):
            deleted.append(done)
        self.assertEqual([mysql.Dialect.expire_chunk, 500], deleted)
        for node in self.cluster.nodes:
            self.assertEqual([], stored_ids(node, self.database))

    def test_two_writers_on_two_nodes(self):
        first, second, third = self.cluster.nodes
        conn = self.connect([first])
        conn.upgrade()
        other = self.connect([second])
        self.assertNotEqual(serving_port(conn), serving_port(other))
        # Overlapping batches at once: each message_id 0-999 is sent by
        # both writers, in different orders.
        batches = [(conn, events(i, i + 50)) for i in range(0, 1000, 50)]
        batches += [(other, events(i, i + 50))
                    for i in reversed(range(0, 1000, 50))]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda job: job[0].record_events(job[1]), batches))
        refused = [r for result in results for r in result]
        self.assertEqual({models.Problem.DUPLICATE},
                         {r.problem for r in refused} or
                         {models.Problem.DUPLICATE})
        # Every event stored once, reported stored by one writer and as a
        # duplicate by the other.
        self.assertEqual(1000, len(refused))
        for node in (first, second, third):
            ids = stored_ids(node, self.database)
            self.assertEqual(1000, len(ids))
            self.assertEqual({f"m{i:06d}" for i in range(1000)}, set(ids))


class _OnTheCluster(galera.ClusterTestCase):
    """What ExpiryWhileWritingScenarios expects of a backend test case:
    a migrated database, its URL and configuration."""

    def setUp(self):
        super().setUp()
        self.url = self.cluster.url(self.database)
        self.conf = backends.make_conf(self.url)
        self.conn = self.connect()
        self.conn.upgrade()


class TestGaleraExpiryWhileWriting(
        test_concurrency.ExpiryWhileWritingScenarios, _OnTheCluster,
        unittest.TestCase):
    """The expirer on another node than the writer: the writer's locks
    are not seen there, and a conflict shows at commit instead (a
    certification failure, or the writer's foreign key check)."""

    def setUp(self):
        super().setUp()
        first, second, third = self.cluster.nodes
        self.writer = self.connect([first, second, third])
        self.expirer = self.connect([second, third, first])
        self.assertNotEqual(serving_port(self.writer),
                            serving_port(self.expirer))

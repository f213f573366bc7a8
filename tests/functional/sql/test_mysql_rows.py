"""MySQL/MariaDB: the multi-row INSERTs the SQL driver writes itself
(storage.sqlalchemy.mysql), on the real server."""

import datetime
import decimal

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import mysql as multirow
from tests.functional import backends

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 123456)

#: Texts whose literal is written here, and those PyMySQL writes.
TEXTS = [
    "", "plain", "it's", "\\", "\\'", "'\\", "a\\\\b", "''", '"quoted"',
    "%s %d %(x)s %", "tab\there", "Zürich 🚀 \u2028", "x" * 4096,
    "line\nbreak", "carriage\rreturn", "ctrl-\x1az", "\\\n'",
]


class MultiRowTest(backends.BackendTestCase):
    backend_name = "mysql"

    def driver(self, conn):
        return conn.connection.driver_connection

    def test_literals_read_back_as_written(self):
        values = TEXTS + [
            0, -1, models.INT_MIN, models.INT_MAX, 0.1, -0.0, 1e300,
            5e-324, 2.5, decimal.Decimal("1767268800.123456"),
            decimal.Decimal("-0.000001"), None,
        ]
        with self.conn.engine.connect() as conn:
            driver = self.driver(conn)
            self.assertTrue(multirow.applies(driver))
            with driver.cursor() as cursor:
                for value in values:
                    with self.subTest(value=value):
                        text = multirow.literal(
                            value, lambda v: cursor.mogrify("%s", (v,)))
                        cursor.execute("SELECT " + text)
                        (back,) = cursor.fetchone()
                        if isinstance(value, float):
                            back = float(back)
                        self.assertEqual(value, back)
                        self.assertEqual(type(value), type(back))

    def test_statements_split_at_their_size(self):
        with self.conn.engine.connect() as conn:
            driver = self.driver(conn)
            rows = [(i, "k" + str(i), "v" * 3000 + "'\\") for i in range(1000)]
            head = "INSERT INTO t (a, b, c) VALUES "
            statements = list(multirow.statements(driver, head, rows))
            self.assertEqual(3, len(statements))
            for statement in statements:
                self.assertTrue(statement.startswith(head))
                self.assertLessEqual(len(statement.encode()),
                                     multirow.STATEMENT_BYTES)
            # A row longer than a statement is sent alone.
            big = [(1, "a", "b" * 10), (2, "a", "é" * 600_000), (3, "a", "c")]
            statements = list(multirow.statements(driver, head, big))
            self.assertEqual(3, len(statements))
            self.assertIn("é" * 600_000, statements[1])

    def test_batch_of_many_statements_stored_whole(self):
        # 600 events of ~4 KB of text traits each: several statements
        # per table, every value read back exactly.
        events = [
            models.Event(f"m-{i}", "rows.test", T0 + datetime.timedelta(
                seconds=i), [
                    models.Trait("text", models.TEXT_TYPE,
                                 TEXTS[i % len(TEXTS)][:4000] + str(i)),
                    models.Trait("long", models.TEXT_TYPE, "x'\\" * 1000),
                    models.Trait("n", models.INT_TYPE, models.INT_MAX - i),
                    models.Trait("f", models.FLOAT_TYPE, 0.1 * i),
                    models.Trait("at", models.DATETIME_TYPE,
                                 T0 - datetime.timedelta(microseconds=i)),
                ], {"payload": TEXTS[i % len(TEXTS)], "i": i})
            for i in range(600)
        ]
        self.assertEqual([], self.conn.record_events(events))
        stored = {event.message_id: event for event in self.conn.get_events(
            storage.EventFilter(event_type="rows.test"))}
        self.assertEqual(600, len(stored))
        for event in events:
            back = stored[event.message_id]
            self.assertEqual(
                sorted((t.name, t.dtype, t.value) for t in event.traits),
                sorted((t.name, t.dtype, t.value) for t in back.traits))
            self.assertEqual(event.raw, back.raw)
            self.assertEqual(event.generated, back.generated)

    def test_refused_batch_leaves_nothing_half_written(self):
        # A text the column is made too short for: the server refuses
        # the batch's statement, its transaction is rolled back, then
        # each event is tried alone and only the refused ones are left
        # out, whole.
        engine = self.conn.engine
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "ALTER TABLE trait_text MODIFY value VARCHAR(20)")
        events = [
            models.Event(f"c-{i}", "rows.test", T0, [
                models.Trait("n", models.INT_TYPE, i),
                models.Trait("s", models.TEXT_TYPE,
                             "it's \\ fine" * (i // 10 + 1)),
            ], {"i": i})
            for i in range(12)
        ]
        rejected = self.conn.record_events(events)
        self.assertEqual(["c-10", "c-11"],
                         sorted(r.message_id for r in rejected))
        self.assertEqual({models.Problem.UNKNOWN},
                         {r.problem for r in rejected})
        with engine.connect() as conn:
            counts = [conn.execute(sa.text(
                f"SELECT count(*) FROM {table}")).scalar()
                for table in ("event", "trait_int", "trait_text")]
        self.assertEqual([10, 10, 10], counts)

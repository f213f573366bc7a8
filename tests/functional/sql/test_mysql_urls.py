"""MySQL/MariaDB: a database named by a ``mariadb://`` URL is the same
database, written and read by the same driver, as by ``mysql://``."""

import datetime

from panko_like import storage
from panko_like.storage import models
from tests.functional import backends

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 654321)


def _event(message_id):
    return models.Event(message_id, "url.test", T0, [
        models.Trait("project_id", models.TEXT_TYPE, "p-1"),
        models.Trait("n", models.INT_TYPE, 7),
        models.Trait("at", models.DATETIME_TYPE, T0),
    ], {"said": "it's \\ here"})


class MariaDBSchemeTest(backends.BackendTestCase):
    backend_name = "mysql"

    def connect(self, url):
        conn = storage.get_connection(url, backends.make_conf(url))
        self.addCleanup(conn.close)
        return conn

    def test_mariadb_urls_reach_the_same_database(self):
        rest = self.url.partition("://")[2]
        for scheme in ("mariadb", "mariadb+pymysql", "MariaDB+PyMySQL"):
            with self.subTest(scheme=scheme):
                conn = self.connect(f"{scheme}://{rest}")
                dialect = conn.engine.dialect
                self.assertEqual("mysql", dialect.name)
                self.assertEqual("pymysql", dialect.driver)
                # Already migrated through the mysql:// URL.
                self.assertEqual(self.conn.schema_version(),
                                 conn.schema_version())
                message_id = f"via-{scheme}"
                self.assertEqual([], conn.record_events([_event(message_id)]))
                # A server of either kind is told apart once connected.
                self.assertEqual(self.conn.engine.dialect.is_mariadb,
                                 dialect.is_mariadb)
                (back,) = self.conn.get_events(
                    storage.EventFilter(message_id=message_id))
                self.assertEqual(_event(message_id).raw, back.raw)
                self.assertEqual(T0, back.generated)
                self.assertEqual(
                    {("project_id", "p-1"), ("n", 7), ("at", T0)},
                    {(t.name, t.value) for t in back.traits})
                # The same event again: refused as stored, either way.
                (rejected,) = conn.record_events([_event(message_id)])
                self.assertEqual(models.Problem.DUPLICATE, rejected.problem)

    def test_unknown_mariadb_driver_is_a_clear_error(self):
        rest = self.url.partition("://")[2]
        with self.assertRaises(storage.UnknownDriver) as caught:
            self.connect(f"mariadb+nosuchdriver://{rest}")
        self.assertIn("'mysql+nosuchdriver'", str(caught.exception))

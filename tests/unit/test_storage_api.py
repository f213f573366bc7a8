import datetime
import os
import tempfile
import unittest

import panko_like
from panko_like import service, storage
from panko_like.storage import base


class TestFilters(unittest.TestCase):
    def test_trait_filter_from_dict_converts(self):
        f = storage.EventFilter(traits_filter=[
            {"key": "n", "op": "ge", "integer": "10"},
            {"key": "d", "datetime": "2020-01-01T02:00:00+02:00"},
        ])
        self.assertEqual(10, f.traits_filter[0].value)
        self.assertEqual("eq", f.traits_filter[1].op)
        self.assertEqual(datetime.datetime(2020, 1, 1),
                         f.traits_filter[1].value)

    def test_trait_filter_errors(self):
        for bad in (
            {"key": "n", "op": "like", "string": "x"},
            {"key": "n", "integer": "abc"},
            {"key": "n"},
            {"key": "n", "string": "x", "integer": 1},
            {"key": "n", "string": None},
        ):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                storage.EventFilter(traits_filter=[bad])

    def test_pagination_completes_the_sort(self):
        self.assertEqual(list(storage.DEFAULT_SORT),
                         storage.Pagination().sort)
        self.assertEqual(
            [("generated", "desc"), ("message_id", "asc")],
            storage.Pagination(sort=[("generated", "desc")]).sort,
        )
        self.assertEqual(
            [("message_id", "desc"), ("generated", "asc")],
            storage.Pagination(sort=[("message_id", "desc"),
                                     ("message_id", "asc")]).sort,
        )

    def test_pagination_errors(self):
        for kwargs in ({"limit": 0}, {"limit": -1},
                       {"sort": [("raw", "asc")]},
                       {"sort": [("generated", "up")]}):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                storage.Pagination(**kwargs)


class TestCapabilities(unittest.TestCase):
    def test_merge_and_flatten(self):
        merged = base.merge_dicts(
            {"events": {"query": {"simple": False}}, "x": 1},
            {"events": {"query": {"simple": True}}},
        )
        self.assertEqual({"events": {"query": {"simple": True}}, "x": 1},
                         merged)
        self.assertEqual({"events:query:simple": True, "x": 1},
                         base.flatten(merged))

    def test_sql_driver_capabilities(self):
        from panko_like.storage import impl_sqlalchemy

        caps = base.flatten(impl_sqlalchemy.Connection.get_capabilities())
        self.assertEqual(
            {"events:query:simple": True, "events:query:count": True,
             "events:query:statistics": True, "events:delete": True,
             "events:update": True,
             "events:stream": True}, caps)
        self.assertEqual(
            {"storage:production_ready": True, "storage:expiry": True},
            base.flatten(
                impl_sqlalchemy.Connection.get_storage_capabilities()),
        )

    def test_base_methods_raise_named_not_implemented(self):
        class Minimal(base.Connection):
            def record_events(self, events):
                return []

        conn = Minimal("x://")
        for call in (lambda: conn.get_events(storage.EventFilter()),
                     conn.get_event_types,
                     lambda: conn.get_trait_types("t"),
                     lambda: conn.get_traits("t"),
                     lambda: conn.clear_expired_data(1, 1),
                     lambda: conn.delete_events(storage.EventFilter()),
                     conn.upgrade, conn.clear):
            with self.assertRaises(panko_like.NotImplementedError) as ctx:
                call()
            self.assertIn("driver", str(ctx.exception))


class TestDriverLoading(unittest.TestCase):
    def test_scheme_of(self):
        self.assertEqual("postgresql",
                         storage.scheme_of("postgresql+psycopg://h/db"))
        self.assertEqual("sqlite", storage.scheme_of("sqlite:///x"))
        self.assertEqual("mysql", storage.scheme_of("MYSQL://h/db"))
        with self.assertRaises(storage.UnknownDriver):
            storage.scheme_of("nothing")

    def test_unknown_scheme_lists_installed_drivers(self):
        with self.assertRaises(storage.UnknownDriver) as ctx:
            storage.get_connection("nosuch://x")
        message = str(ctx.exception)
        self.assertIn("'nosuch'", message)
        for name in ("mysql", "postgresql", "sqlite"):
            self.assertIn(name, message)

    def test_unknown_database_driver_is_not_retried(self):
        conf = service.prepare_service([], config_files=[])
        conf.set_override("connection", "sqlite+nosuch:///x.sqlite",
                          group="database")
        conf.set_override("retry_interval", 60, group="database")
        with self.assertRaises(storage.UnknownDriver) as ctx:
            storage.get_connection_from_config(conf)
        self.assertIn("'sqlite+nosuch'", str(ctx.exception))

    def test_sqlite_by_url(self):
        path = tempfile.mkdtemp()
        conn = storage.get_connection(f"sqlite:///{path}/x.sqlite")
        self.addCleanup(conn.close)
        self.assertEqual("sqlite", conn.engine.dialect.name)

    def test_default_is_embedded_sqlite_in_data_dir(self):
        path = tempfile.mkdtemp()
        conf = service.prepare_service([], config_files=[])
        conf.set_override("data_dir", os.path.join(path, "data"))
        conn = storage.get_connection_from_config(conf)
        self.addCleanup(conn.close)
        self.assertTrue(os.path.isdir(os.path.join(path, "data")))
        self.assertIn(os.path.join(path, "data", "panko_like.sqlite"),
                      conn.url)

    def test_retries_then_gives_up(self):
        conf = service.prepare_service([], config_files=[])
        # Port 9 (discard) is closed here: a real refused connection.
        conf.set_override(
            "connection", "postgresql+psycopg://u@127.0.0.1:9/db",
            group="database")
        conf.set_override("max_retries", 2, group="database")
        conf.set_override("retry_interval", 0, group="database")
        with self.assertLogs("panko_like.storage", "WARNING") as logs:
            with self.assertRaises(Exception) as ctx:
                storage.get_connection_from_config(conf)
        self.assertNotIsInstance(ctx.exception, storage.UnknownDriver)
        self.assertEqual(2, len(logs.records))

    def test_unknown_scheme_is_not_retried(self):
        conf = service.prepare_service([], config_files=[])
        conf.set_override("connection", "nosuch://x", group="database")
        conf.set_override("retry_interval", 60, group="database")
        with self.assertRaises(storage.UnknownDriver):
            storage.get_connection_from_config(conf)

"""The log driver: logs what it is given, answers no query."""

import datetime
import logging
import os
import shutil
import tempfile
import unittest

import webtest

import panko_like
from panko_like import storage
from panko_like.api import app
from panko_like.storage import impl_log, models
from tests.functional import backends
from tests.functional.scripts import run

LOGGER = "panko_like.storage.impl_log"
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 5)


def event(message_id="m-1", raw=None, traits=None):
    return models.Event(
        message_id, "compute.instance.create.end", T0,
        traits if traits is not None else [
            models.Trait("project_id", models.TEXT_TYPE, "p"),
            models.Trait("size", models.INT_TYPE, 3),
        ],
        raw,
    )


class TestLogDriver(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.conn = storage.get_connection(
            "log://", backends.make_conf("log://"))

    def test_selected_by_scheme(self):
        self.assertIsInstance(self.conn, impl_log.Connection)
        self.assertIn("log", storage.installed_drivers())

    def test_one_line_per_event_without_raw(self):
        with self.assertLogs(LOGGER, logging.INFO) as logs:
            rejected = self.conn.record_events([
                event("a", raw={"secret": "payload"}), event("b"),
            ])
        self.assertEqual([], rejected)
        self.assertEqual(2, len(logs.output))
        first = logs.output[0]
        self.assertIn('message_id="a"', first)
        self.assertIn('event_type="compute.instance.create.end"', first)
        self.assertIn('generated="2026-01-01T12:00:00.000005"', first)
        self.assertIn('traits=["project_id:string", "size:integer"]', first)
        self.assertNotIn("payload", first)
        self.assertNotIn("\n", first)

    def test_raw_only_when_debugging(self):
        with self.assertLogs(LOGGER, logging.DEBUG) as logs:
            self.conn.record_events([event("a", raw={"k": "payload\nx"})])
        (line,) = logs.output
        self.assertIn('raw={"k": "payload\\nx"}', line)
        self.assertNotIn("\n", line)

    def test_invalid_events_are_reported_not_logged(self):
        with self.assertLogs(LOGGER, logging.INFO) as logs:
            rejected = self.conn.record_events([
                event("x" * 51),
                event("bad", traits=[models.Trait("n", 2, "abc")]),
                event("ok"),
            ])
        self.assertEqual(
            [("x" * 51, "invalid"), ("bad", "incompatible_trait")],
            [(r.message_id, r.problem.value) for r in rejected])
        self.assertEqual(1, len(logs.output))

    def test_every_query_is_not_implemented(self):
        calls = {
            "get_events": lambda: self.conn.get_events(
                storage.EventFilter()),
            "get_event_types": self.conn.get_event_types,
            "get_trait_types": lambda: self.conn.get_trait_types("t"),
            "get_traits": lambda: self.conn.get_traits("t", "n"),
            "clear_expired_data": lambda: self.conn.clear_expired_data(
                60, 10),
            "delete_events": lambda: self.conn.delete_events(
                storage.EventFilter()),
        }
        for name, call in calls.items():
            with self.subTest(method=name):
                with self.assertRaises(panko_like.NotImplementedError) as ctx:
                    call()
                self.assertIn(name, str(ctx.exception))
                self.assertIn("impl_log", str(ctx.exception))

    def test_upgrade_and_clear(self):
        self.assertIn("nothing to do", self.conn.upgrade())
        self.conn.clear()


class TestLogDriverCommands(unittest.TestCase):
    def write_config(self, **database):
        path = os.path.join(tempfile.mkdtemp(), "panko_like.conf")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        lines = ["[database]", "connection = log://"]
        lines += [f"{key} = {value}" for key, value in database.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_dbsync(self):
        result = run("panko-like-dbsync", "--config-file",
                     self.write_config())
        self.assertIn("nothing to do", result.stdout)

    def test_expirer_is_a_clear_error(self):
        result = run("panko-like-expirer", "--config-file",
                     self.write_config(event_time_to_live=60), check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn("cannot expire events: clear_expired_data is not "
                      "implemented", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class TestLogDriverAPI(unittest.TestCase):
    """Through the real WSGI stack: ingestion works, queries are 501."""

    ADMIN = {"X-User-Id": "admin", "X-Project-Id": "p", "X-Roles": "admin"}

    def setUp(self):
        super().setUp()
        conf = backends.make_conf("log://")
        conf.set_override("auth_mode", "noauth", group="api")
        wsgi = app.setup_app(conf)
        self.addCleanup(wsgi.storage_holder.close)
        self.app = webtest.TestApp(wsgi)

    def test_queries_answer_501(self):
        for method, path in (
                ("GET", "/v2/events"),
                ("GET", "/v2/events?q.field=flavor&q.value=x"),
                ("GET", "/v2/events/m-1"),
                ("DELETE", "/v2/events/m-1"),
                ("GET", "/v2/event_types"),
                ("GET", "/v2/event_types/t/traits"),
                ("GET", "/v2/event_types/t/traits/n")):
            with self.subTest(method=method, path=path):
                response = self.app.request(
                    path, method=method, headers=self.ADMIN, status=501)
                error = response.json["error_message"]
                self.assertEqual("Server", error["faultcode"])
                self.assertIn("not implemented by the "
                              "panko_like.storage.impl_log driver",
                              error["faultstring"])

    def test_ingestion_is_logged(self):
        body = [{"message_id": "m-1", "event_type": "t",
                 "generated": "2026-01-01T00:00:00",
                 "traits": [["project_id", 1, "p"]], "raw": {"k": "v"}}]
        with self.assertLogs(LOGGER, logging.INFO) as logs:
            response = self.app.post_json(
                "/v2/events", body, headers=self.ADMIN, status=201)
        self.assertEqual({"stored": 1, "duplicates": []}, response.json)
        self.assertIn('message_id="m-1"', logs.output[0])

    def test_healthy(self):
        self.app.get("/healthcheck", status=200)

    def test_capabilities(self):
        # Every one false (storage/test_capabilities has the others).
        self.assertEqual(
            {"api": {"events:query:simple": False,
                     "events:query:count": False,
                     "events:query:statistics": False,
                     "events:delete": False, "events:update": False,
                     "events:stream": False},
             "event_storage": {"storage:production_ready": False,
                               "storage:expiry": False}},
            self.app.get("/v2/capabilities", headers=self.ADMIN).json)

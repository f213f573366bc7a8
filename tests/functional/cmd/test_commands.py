"""The console scripts, run as real subprocesses on every backend."""

import datetime
import os
import shutil
import tempfile

from panko_like import storage
from panko_like.storage import models
from tests.functional import backends, dataset
from tests.functional.scripts import run


@backends.requires("events:query:simple")
class CommandScenarios:
    auto_upgrade = False

    def write_config(self, **database):
        path = os.path.join(tempfile.mkdtemp(), "panko_like.conf")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        lines = ["[database]", f"connection = {self.url}"]
        lines += [f"{key} = {value}" for key, value in database.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_dbsync_creates_then_is_idempotent(self):
        conf = self.write_config()
        first = run("panko-like-dbsync", "--config-file", conf)
        self.assertIn("created the schema", first.stdout)
        second = run("panko-like-dbsync", "--config-file", conf)
        self.assertIn("nothing to do", second.stdout)
        # A write/read round trip on the schema dbsync made.
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        self.assertEqual(
            len(events),
            len(list(self.conn.get_events(storage.EventFilter()))),
        )

    @backends.requires("storage:expiry")
    def test_expirer_in_batches(self):
        run("panko-like-dbsync", "--config-file", self.write_config())
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        events = [
            models.Event(f"e{i}", "old" if i < 7 else "new",
                         now - datetime.timedelta(hours=48 if i < 7 else 0),
                         [models.Trait("i", 2, i)])
            for i in range(10)
        ]
        self.assertEqual([], self.conn.record_events(events))
        conf = self.write_config(event_time_to_live=86400,
                                 events_delete_batch_size=3)
        result = run("panko-like-expirer", "--config-file", conf)
        self.assertIn("expired 7 events", result.stdout)
        left = [e.message_id
                for e in self.conn.get_events(storage.EventFilter())]
        self.assertEqual(["e7", "e8", "e9"], left)
        self.assertEqual(["new"], self.conn.get_event_types())

    @backends.requires("storage:expiry")
    def test_expirer_default_batch(self):
        run("panko-like-dbsync", "--config-file", self.write_config())
        old = datetime.datetime(2000, 1, 1)
        self.conn.record_events(
            [models.Event(f"e{i}", "t", old, []) for i in range(5)])
        conf = self.write_config(event_time_to_live=60)
        result = run("panko-like-expirer", "--config-file", conf)
        self.assertIn("expired 5 events", result.stdout)

    @backends.requires("storage:expiry")
    def test_expirer_with_ttl_off(self):
        run("panko-like-dbsync", "--config-file", self.write_config())
        self.conn.record_events(
            [models.Event("e", "t", datetime.datetime(2000, 1, 1), [])])
        result = run("panko-like-expirer", "--config-file",
                     self.write_config(event_time_to_live=-1))
        self.assertIn("nothing to expire", result.stdout)
        self.assertEqual(
            1, len(list(self.conn.get_events(storage.EventFilter()))))


globals().update(backends.make_test_cases(CommandScenarios))


class TestCommandErrors(backends.BackendTestCase):
    auto_upgrade = False

    def write_file(self, text):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "c.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_clear_error(self, command, path, *fragments):
        result = run(command, "--config-file", path, check=False)
        self.assertNotEqual(0, result.returncode)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_unreachable_database_is_a_clear_error(self):
        path = self.write_file("[database]\n"
                               "connection = postgresql://u@127.0.0.1:9/db\n"
                               "max_retries = 0\n")
        self.assert_clear_error("panko-like-dbsync", path,
                                "cannot connect to the storage")

    def test_unknown_scheme_is_a_clear_error(self):
        path = self.write_file("[database]\nconnection = nosuch://x\n")
        self.assert_clear_error("panko-like-expirer", path,
                                "no storage driver for scheme 'nosuch'")

    def test_unknown_database_driver_is_a_clear_error(self):
        # Not retried max_retries times: the default would wait 100 s
        # (the test's timeout is 120).
        path = self.write_file("[database]\n"
                               "connection = mariadb+nosuch://r@h/db\n")
        self.assert_clear_error("panko-like-dbsync", path,
                                "no database driver 'mysql+nosuch'")

    def test_missing_config_file_is_a_clear_error(self):
        self.assert_clear_error("panko-like-dbsync", "/nonexistent")

    def test_bad_option_value_is_a_clear_error(self):
        path = self.write_file("[database]\nevents_delete_batch_size = -5\n")
        self.assert_clear_error("panko-like-expirer", path,
                                "configuration error",
                                "events_delete_batch_size")

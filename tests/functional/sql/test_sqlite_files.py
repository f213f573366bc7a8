"""SQLite's files hold every tenant's events: only the service reads
them."""

import datetime
import os
import shutil
import stat
import tempfile
import unittest

from panko_like import service, storage
from panko_like.storage import models


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class TestPrivateFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def test_new_database_and_its_log_are_private(self):
        path = os.path.join(self.dir, "events.sqlite")
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        conn = storage.get_connection(f"sqlite:///{path}")
        self.addCleanup(conn.close)
        conn.upgrade()
        self.assertEqual([], conn.record_events([models.Event(
            "m", "t", datetime.datetime(2026, 1, 1), [], {})]))
        self.assertEqual(0o600, mode(path))
        self.assertEqual(0o600, mode(path + "-wal"))

    def test_an_existing_file_keeps_its_mode(self):
        path = os.path.join(self.dir, "events.sqlite")
        with open(path, "wb"):
            pass
        os.chmod(path, 0o640)
        conn = storage.get_connection(f"sqlite:///{path}")
        self.addCleanup(conn.close)
        conn.upgrade()
        self.assertEqual(0o640, mode(path))

    def test_embedded_default_directory_is_private(self):
        conf = service.prepare_service([])
        data_dir = os.path.join(self.dir, "data")
        conf.set_override("data_dir", data_dir)
        url = storage.default_url(conf)
        self.assertEqual(0o700, mode(data_dir))
        conn = storage.get_connection(url, conf)
        self.addCleanup(conn.close)
        conn.upgrade()
        self.assertEqual(0o600, mode(url[len("sqlite:///"):]))

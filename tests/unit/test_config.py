import os
import tempfile
import unittest

from oslo_config import generator

from panko_like import service

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
ETC = os.path.join(ROOT, "etc", "panko_like")

PANKO_CONF = """
[DEFAULT]
debug = true
transport_url = rabbit://guest:guest@localhost:5672/

[api]
paste_config = api_paste.ini

[database]
connection = mysql+pymysql://panko:secret@db.example.org/panko?charset=utf8
max_retries = 3
retry_interval = 2
event_time_to_live = 2592000
events_delete_batch_size = 500

[keystone_authtoken]
auth_type = password
"""


class TestConfig(unittest.TestCase):
    def test_panko_config_file_reads_as_is(self):
        path = os.path.join(tempfile.mkdtemp(), "panko.conf")
        with open(path, "w") as f:
            f.write(PANKO_CONF)
        conf = service.prepare_service(["--config-file", path])
        db = conf.database
        self.assertEqual(
            "mysql+pymysql://panko:secret@db.example.org/panko?charset=utf8",
            db.connection)
        self.assertEqual((3, 2, 2592000, 500),
                         (db.max_retries, db.retry_interval,
                          db.event_time_to_live,
                          db.events_delete_batch_size))

    def test_bounds_are_enforced(self):
        for name, value in (("events_delete_batch_size", -5),
                            ("sqlite_cache_size", 0),
                            ("sqlite_wal_autocheckpoint", 0)):
            with self.subTest(name=name):
                path = os.path.join(tempfile.mkdtemp(), "bad.conf")
                with open(path, "w") as f:
                    f.write(f"[database]\n{name} = {value}\n")
                conf = service.prepare_service(["--config-file", path])
                self.assertRaises(ValueError, getattr, conf.database, name)

    def test_every_option_has_help(self):
        from panko_like import opts

        for group, options in opts.list_opts():
            for opt in options:
                self.assertTrue(opt.help, f"[{group}] {opt.name}")

    def test_sample_config_is_up_to_date(self):
        out = os.path.join(tempfile.mkdtemp(), "sample.conf")
        generator.main([
            "--config-file",
            os.path.join(ETC, "panko_like-config-generator.conf"),
            "--output-file", out,
        ])
        with open(out) as f:
            generated = f.read()
        with open(os.path.join(ETC, "panko_like.conf.sample")) as f:
            committed = f.read()
        self.assertEqual(
            committed, generated,
            "etc/panko_like/panko_like.conf.sample is out of date: "
            "run 'tox -e genconfig'",
        )

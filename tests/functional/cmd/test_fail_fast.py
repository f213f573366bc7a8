"""Commands stop at once, with one line naming the cause, on a mistake
that retrying cannot fix: credentials, a database, a host name, a
client library, a URL scheme; and on a database out of connections.

Each runs ``panko-like-dbsync`` as a real subprocess with a retry
budget (``max_retries`` x ``retry_interval``) far longer than the time
it is allowed, and checks that no retry was logged.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import sqlalchemy as sa

from tests.functional import backends
from tests.functional.scripts import run

#: A retry budget no command may spend here: 5 retries 10 s apart.
RETRIES = {"max_retries": 5, "retry_interval": 10}
#: Well under one retry_interval.
AT_ONCE = 8.0
PASSWORD = "s3cretpw"


class FailFastTestCase(unittest.TestCase):
    #: The backend whose server the test needs (None: none).
    backend_name = None

    def setUp(self):
        super().setUp()
        if self.backend_name:
            reason = backends.BACKENDS[self.backend_name].unavailable()
            if reason:
                if self.backend_name in backends.required():
                    self.fail(f"backend {self.backend_name} required: "
                              f"{reason}")
                self.skipTest(reason)
        self.dir = tempfile.mkdtemp(prefix="panko_like_failfast_")
        self.addCleanup(shutil.rmtree, self.dir)

    def admin_url(self):
        return backends.BACKENDS[self.backend_name].admin_url()

    def url(self, **parts):
        """The administrative URL with ``parts`` replaced."""
        return sa.engine.make_url(self.admin_url()).set(
            **parts).render_as_string(hide_password=False)

    def config(self, url, **database):
        path = os.path.join(self.dir, "panko_like.conf")
        lines = ["[database]", f"connection = {url}"]
        lines += [f"{key} = {value}"
                  for key, value in {**RETRIES, **database}.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def dbsync(self, url):
        start = time.monotonic()
        result = run("panko-like-dbsync", "--config-file", self.config(url),
                     check=False, timeout=120)
        return result, time.monotonic() - start

    def assertFailsFast(self, result, elapsed, *words):
        """Non-zero, at once, one line naming the cause, no retry."""
        output = result.stdout + result.stderr
        self.assertNotEqual(0, result.returncode, output)
        self.assertLess(elapsed, AT_ONCE, output)
        self.assertNotIn("attempt", output)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(1, len(lines), output)
        for word in words:
            self.assertIn(word, lines[0])
        self.assertNotIn(PASSWORD, output)
        self.assertNotIn("Traceback", output)
        return lines[0]


class PostgreSQLFailFast(FailFastTestCase):
    backend_name = "postgresql"

    def test_unknown_role(self):
        result, elapsed = self.dbsync(
            self.url(username="panko_like_no_such_role", password=PASSWORD))
        self.assertFailsFast(result, elapsed, "refused the configuration",
                             "panko_like_no_such_role")

    def test_unknown_database(self):
        result, elapsed = self.dbsync(
            self.url(database="panko_like_no_such_db"))
        self.assertFailsFast(result, elapsed, "refused the configuration",
                             "panko_like_no_such_db", "does not exist")

    def test_unknown_host(self):
        result, elapsed = self.dbsync(self.url(host="nosuchhost.invalid"))
        self.assertFailsFast(result, elapsed, "refused the configuration",
                             "nosuchhost.invalid")

    def test_role_without_connections(self):
        role = f"panko_like_full_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.admin_url(),
                                 isolation_level="AUTOCOMMIT",
                                 poolclass=sa.NullPool)
        self.addCleanup(admin.dispose)
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        self.addCleanup(drop)
        result, elapsed = self.dbsync(self.url(username=role, password=None))
        self.assertFailsFast(result, elapsed, "out of resources",
                             "too many connections")

    def test_missing_client_library(self):
        # psycopg made unimportable in the command's own process.
        code = (
            "import sys\n"
            "sys.modules['psycopg'] = None\n"
            "from panko_like.cmd import storage\n"
            f"storage.dbsync(['--config-file', {self.config(self.url())!r}])"
        )
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL)
        line = self.assertFailsFast(result, time.monotonic() - start,
                                    "psycopg")
        self.assertIn("pip install 'panko_like[postgresql]'", line)


class MySQLFailFast(FailFastTestCase):
    backend_name = "mysql"

    def test_access_denied(self):
        result, elapsed = self.dbsync(
            self.url(username="panko_like_nobody", password=PASSWORD))
        self.assertFailsFast(result, elapsed, "refused the configuration",
                             "Access denied", "panko_like_nobody")

    def test_unknown_database(self):
        result, elapsed = self.dbsync(
            self.url(database="panko_like_no_such_db"))
        self.assertFailsFast(result, elapsed, "refused the configuration",
                             "panko_like_no_such_db")


class SQLiteFailFast(FailFastTestCase):
    def test_expirer_on_a_database_without_tables(self):
        # An empty database file: panko-like-dbsync was never run.
        url = f"sqlite:///{self.dir}/empty.sqlite"
        start = time.monotonic()
        result = run("panko-like-expirer", "--config-file",
                     self.config(url, event_time_to_live=86400),
                     check=False, timeout=120)
        self.assertFailsFast(result, time.monotonic() - start,
                             "refused the configuration", "no such table",
                             "panko-like-dbsync")


class SchemeFailFast(FailFastTestCase):
    def test_unknown_scheme_loads_no_driver(self):
        # The command in-process, then what it imported: no driver and
        # no client library (the option modules of the SQL driver are
        # read by every command, to check the configuration).
        config = self.config("nosuch://somewhere/events")
        code = (
            "import sys\n"
            "from panko_like.cmd import storage\n"
            "try:\n"
            f"    storage.dbsync(['--config-file', {config!r}])\n"
            "except SystemExit as exc:\n"
            "    print(exc.code, file=sys.stderr)\n"
            "    loaded = sorted(m for m in sys.modules if m.startswith(\n"
            "        ('panko_like.storage.impl_', 'pymongo', 'psycopg',\n"
            "         'pymysql')))\n"
            "    print(loaded)\n"
            "    sys.exit(1)\n"
        )
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL)
        line = self.assertFailsFast(result, time.monotonic() - start,
                                    "nosuch")
        self.assertIn("installed: ", line)
        for scheme in ("log", "mongodb", "mysql", "postgresql", "sqlite"):
            self.assertIn(scheme, line.split("installed: ", 1)[1])
        self.assertEqual("[]", result.stdout.strip())

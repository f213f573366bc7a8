"""Throwaway PostgreSQL servers: a primary and its streaming standby.

Each server runs from a temporary directory on a free loopback port, as
the postgres user when the tests run as root. The failover, standby
read and API failover tests, and the standby read benchmark, build
their pair here.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from panko_like import storage
from tests.functional import apiserver, backends

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*command, **kwargs):
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    return subprocess.run(command, check=True, capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL, **kwargs)


def unavailable() -> str | None:
    """Why no server can be run here, or None."""
    if not PG_BIN:
        return "PostgreSQL server binaries not installed"
    if os.geteuid() != 0 and os.environ.get("USER") != "postgres":
        return "needs root or the postgres user to run servers"
    return None


def require(test):
    """Skip ``test`` where no server can run, or fail it when CI
    requires PostgreSQL."""
    reason = unavailable()
    if reason:
        if "postgresql" in backends.required():
            test.fail(reason)
        test.skipTest(reason)


class Server:
    """One PostgreSQL server in a temporary directory."""

    def __init__(self, root, name):
        self.name = name
        self.dir = os.path.join(root, name)
        self.port = free_port()
        self.bin = PG_BIN[-1]

    def tool(self, name, *args):
        return _as_postgres(os.path.join(self.bin, name), *args)

    def initdb(self):
        self.tool("initdb", "-D", self.dir, "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")

    def basebackup_of(self, primary):
        self.tool("pg_basebackup", "-h", "127.0.0.1", "-p",
                  str(primary.port), "-U", "postgres", "-D", self.dir,
                  "-R", "-X", "stream", "-c", "fast")
        # The name the primary's synchronous_standby_names lists.
        with open(os.path.join(self.dir, "postgresql.auto.conf"), "a") as f:
            f.write(f"primary_conninfo = 'host=127.0.0.1 "
                    f"port={primary.port} user=postgres "
                    f"application_name={self.name}'\n")

    def start(self, *settings):
        """Start; ``settings``: more ``name=value`` server settings."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-k {os.path.dirname(self.dir)} -c fsync=off")
        options += "".join(f" -c {setting}" for setting in settings)
        self.tool("pg_ctl", "-D", self.dir, "-o", options, "-w",
                  "-l", self.dir + ".log", "start")

    def stop(self):
        try:
            self.tool("pg_ctl", "-D", self.dir, "-m", "immediate", "-w",
                      "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped

    def promote(self):
        self.tool("pg_ctl", "-D", self.dir, "-w", "promote")

    def psql(self, sql, database="postgres"):
        return self.tool("psql", "-h", "127.0.0.1", "-p", str(self.port),
                         "-U", "postgres", "-d", database,
                         "-Atc", sql).stdout.decode()


class Pair:
    """A primary and a standby made from it by pg_basebackup, with a
    database ``events``. ``synchronous``: the primary waits for the
    standby to have each commit before acknowledging it."""

    def __init__(self, root, synchronous=False):
        self.root = root
        self.synchronous = synchronous
        self.primary = Server(root, "primary")
        self.standby = Server(root, "standby")

    def start(self, cleanups):
        """Start both; ``cleanups(func)`` is called with what stops
        them, before anything can fail."""
        self.primary.initdb()
        cleanups(self.primary.stop)
        self.primary.start()
        self.primary.psql("CREATE DATABASE events")
        self.standby.basebackup_of(self.primary)
        cleanups(self.standby.stop)
        self.standby.start()
        if self.synchronous:
            # Only once the standby runs: until then, every commit of
            # the primary would wait for it.
            self.primary.psql(
                "ALTER SYSTEM SET synchronous_standby_names = 'standby'")
            self.primary.psql("SELECT pg_reload_conf()")
            self.wait(lambda: self.primary.psql(
                "SELECT sync_state FROM pg_stat_replication").strip()
                == "sync", "the standby did not become synchronous")

    def hosts(self, *servers):
        """``host:port,...`` of ``servers`` (both, standby first)."""
        servers = servers or (self.standby, self.primary)
        return ",".join(f"127.0.0.1:{s.port}" for s in servers)

    def url(self, *servers):
        """A libpq host-list URL of ``servers`` (see hosts)."""
        return f"postgresql://postgres@{self.hosts(*servers)}/events"

    def wait_replicated(self, count):
        """Until the standby has ``count`` events."""
        def replicated():
            try:
                return self.standby.psql(
                    "SELECT count(*) FROM event", "events").strip()
            except subprocess.CalledProcessError:
                return None  # the table itself is not there yet
        self.wait(lambda: replicated() == str(count),
                  "the standby did not catch up")

    @staticmethod
    def wait(condition, what, timeout=120):
        # However loaded the machine: a generous limit, not a number of
        # tries (each psql call may itself take a while).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(what)


class PairTestCase(unittest.TestCase):
    """A test with a fresh :class:`Pair` as ``self.pair``."""

    synchronous = False

    def setUp(self):
        super().setUp()
        require(self)
        root = tempfile.mkdtemp(prefix="panko_like_pg_")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        os.chmod(root, 0o777)
        self.pair = Pair(root, self.synchronous)
        self.pair.start(self.addCleanup)
        self.primary = self.pair.primary
        self.standby = self.pair.standby

    def upgrade(self, url):
        """Create the schema through ``url``."""
        conn = storage.get_connection(url, backends.make_conf(url))
        try:
            conn.upgrade()
        finally:
            conn.close()

    def start_api(self, url, **database):
        """``panko-like-api`` (noauth, one worker) over ``url``, with
        more ``[database]`` options."""
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        path = apiserver.write_config(server.home, {
            "database": {"connection": url, **database},
            "api": {"auth_mode": "noauth", "workers": 1},
        })
        server.args[:0] = ["--config-file", path]
        return server.start()

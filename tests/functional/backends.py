"""Throwaway databases on every configured backend.

SQLite always runs. PostgreSQL, MySQL/MariaDB and MongoDB run when their
``PANKO_LIKE_TEST_<BACKEND>_URL`` points at a server (an administrative
URL: each test creates ``panko_like_<uuid>`` there and drops it after).
A backend named in ``PANKO_LIKE_TEST_REQUIRE`` (comma separated, or
``all``) fails instead of skipping when its URL is missing, so CI can
never skip one silently.
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import sqlalchemy as sa

import panko_like
from panko_like import service, storage


class Backend:
    name = ""
    env = ""
    #: A test server much slower than a production one: size loads down.
    slow = False

    def __init__(self, admin_url=None):
        #: A server given outright (see for_url) instead of by ``env``.
        self.given_url = admin_url

    def admin_url(self):
        return self.given_url or os.environ.get(self.env)

    def unavailable(self):
        if self.env and not self.admin_url():
            return f"{self.env} is not set"
        return None

    def create(self) -> str:
        raise NotImplementedError

    def drop(self, url: str) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def create(self):
        path = tempfile.mkdtemp(prefix="panko_like_")
        return f"sqlite:///{path}/events.sqlite"

    def drop(self, url):
        shutil.rmtree(os.path.dirname(url[len("sqlite:///"):]))


class SQLServerBackend(Backend):
    def _admin_engine(self):
        return sa.create_engine(
            self.admin_url(),
            isolation_level="AUTOCOMMIT",
            poolclass=sa.NullPool,
        )

    def create(self):
        name = f"panko_like_{uuid.uuid4().hex}"
        engine = self._admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(self.create_sql(name))
        engine.dispose()
        return sa.engine.make_url(self.admin_url()).set(
            database=name
        ).render_as_string(hide_password=False)

    def drop(self, url):
        name = sa.engine.make_url(url).database
        engine = self._admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(self.drop_sql(name))
        engine.dispose()


class PostgreSQLBackend(SQLServerBackend):
    name = "postgresql"
    env = "PANKO_LIKE_TEST_POSTGRESQL_URL"

    def create_sql(self, name):
        return f'CREATE DATABASE "{name}"'

    def drop_sql(self, name):
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


class MySQLBackend(SQLServerBackend):
    name = "mysql"
    env = "PANKO_LIKE_TEST_MYSQL_URL"

    def create_sql(self, name):
        return (
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_bin"
        )

    def drop_sql(self, name):
        return f"DROP DATABASE IF EXISTS `{name}`"


#: The MongoDB wire-protocol server started when no MongoDB URL is set
#: (SecantusDB, GPL-2.0: a test-only dependency, never shipped).
SECANTUS = "secantusd-py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SecantusServer:
    """One in-memory SecantusDB per test process, started on first use."""

    def __init__(self):
        self.lock = threading.Lock()
        self.url = None
        self.process = None

    @staticmethod
    def executable():
        local = os.path.join(os.path.dirname(sys.executable), SECANTUS)
        return local if os.path.exists(local) else shutil.which(SECANTUS)

    def start(self) -> str:
        with self.lock:
            if self.url is None:
                self.url = self._start()
            return self.url

    def _start(self):
        import pymongo

        port = _free_port()
        self.log = tempfile.NamedTemporaryFile(
            prefix="secantus_", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [self.executable(), "--host", "127.0.0.1", "--port", str(port),
             "--storage-path", ":memory:", "--log-level", "WARNING"],
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        atexit.register(self.stop)
        url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        deadline = time.monotonic() + 60
        while True:
            client = pymongo.MongoClient(url, serverSelectionTimeoutMS=500)
            try:
                client.admin.command("ping")
                return url
            except pymongo.errors.PyMongoError:
                if self.process.poll() is not None or (
                        time.monotonic() > deadline):
                    raise RuntimeError(
                        f"SecantusDB did not start; see {self.log.name}"
                    ) from None
                time.sleep(0.2)
            finally:
                client.close()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            os.unlink(self.log.name)
            self.process = None


class MongoDBBackend(Backend):
    """PANKO_LIKE_TEST_MONGODB_URL, or a SecantusDB started for the run."""

    name = "mongodb"
    env = "PANKO_LIKE_TEST_MONGODB_URL"
    server = SecantusServer()

    @property
    def slow(self):
        return not os.environ.get(self.env)  # SecantusDB, pure Python

    def admin_url(self):
        return self.given_url or os.environ.get(self.env) or (
            self.server.start() if self.server.executable() else None
        )

    def unavailable(self):
        try:
            import pymongo  # noqa: F401
        except ImportError:
            return "pymongo is not installed"
        if not os.environ.get(self.env) and not self.server.executable():
            return f"{self.env} is not set and {SECANTUS} is not installed"
        return None

    def create(self):
        return self.with_database(
            self.admin_url(), f"panko_like_{uuid.uuid4().hex}")

    @staticmethod
    def with_database(url, name):
        from panko_like.storage.mongodb import documents as mongo_documents

        return mongo_documents.with_database(url, name)

    def drop(self, url):
        import pymongo

        client = pymongo.MongoClient(url)
        try:
            client.drop_database(client.get_default_database())
        finally:
            client.close()


BACKENDS = {
    backend.name: backend
    for backend in (SQLiteBackend(), PostgreSQLBackend(), MySQLBackend(),
                    MongoDBBackend())
}
SQL_BACKENDS = ("sqlite", "postgresql", "mysql")


def for_url(url):
    """The backend of a server given by its administrative ``url`` rather
    than by the environment: the benchmarks in tools/ make their scratch
    databases with it. ``sqlite://`` gives temporary files.

    :raises ValueError: no backend for ``url``'s scheme.
    """
    scheme = storage.scheme_of(url)
    backend = BACKENDS.get("mysql" if scheme == "mariadb" else scheme)
    if backend is None:
        raise ValueError(f"no scratch databases on {scheme!r} "
                         f"(known: {', '.join(BACKENDS)})")
    return type(backend)(url)


def required():
    names = os.environ.get("PANKO_LIKE_TEST_REQUIRE", "")
    if names.strip() == "all":
        return set(BACKENDS)
    return {name.strip() for name in names.split(",") if name.strip()}


def make_conf(url, overrides=None):
    """A fresh ConfigOpts pointing at ``url``.

    ``overrides`` maps ``(group, name)`` to a value.
    """
    conf = service.prepare_service([], config_files=[])
    conf.set_override("connection", url, group="database")
    for (group, name), value in (overrides or {}).items():
        conf.set_override(name, value, group=group)
    return conf


class BackendTestCase(unittest.TestCase):
    """Gives each test a fresh, migrated database on ``backend_name``.

    A test that reaches a feature the driver does not implement is
    skipped, not failed: the same scenarios run on every backend.
    """

    backend_name = "sqlite"
    #: Run the driver's upgrade() before the test.
    auto_upgrade = True
    #: Options of the test's configuration: ``{(group, name): value}``.
    conf_overrides = {}

    def setUp(self):
        super().setUp()
        backend = BACKENDS[self.backend_name]
        reason = backend.unavailable()
        if reason:
            if self.backend_name in required():
                self.fail(f"backend {self.backend_name} required: {reason}")
            self.skipTest(reason)
        self.url = backend.create()
        self.addCleanup(backend.drop, self.url)
        self.conf = make_conf(self.url, self.conf_overrides)
        self.conn = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.conn.close)
        if self.auto_upgrade:
            self.conn.upgrade()

    def _callTestMethod(self, method):
        try:
            method()
        except panko_like.NotImplementedError as exc:
            self.skipTest(f"not implemented: {exc}")


def make_test_cases(scenarios, base=BackendTestCase, names=tuple(BACKENDS)):
    """One TestCase class per backend in ``names`` from a mixin of tests.

    Use at module level: ``globals().update(make_test_cases(Mixin))``.
    """
    cases = {}
    for name in names:
        cls_name = f"{scenarios.__name__}_{name}"
        cases[cls_name] = type(
            cls_name,
            (scenarios, base),
            {"backend_name": name, "__module__": scenarios.__module__},
        )
    return cases

"""Throwaway databases on every configured backend, and the rules that
decide whether a scenario runs, is skipped or fails there.

SQLite always runs. PostgreSQL, MySQL/MariaDB and MongoDB run when their
``PANKO_LIKE_TEST_<BACKEND>_URL`` points at a server (an administrative
URL: each test creates ``panko_like_<uuid>`` there and drops it after).
A backend named in ``PANKO_LIKE_TEST_REQUIRE`` (comma separated, or
``all``) fails instead of skipping when its URL is missing, so CI can
never skip one silently; a name there that is no backend is an error.

A scenario is skipped on a backend only where the backend's driver
declares that it lacks a capability the scenario needs (see
:func:`requires` and :data:`CAPABILITY_OF_METHOD`); the reason then
starts with :data:`CAPABILITY_SKIP`, and ``.ci/run`` fails on any skip
whose reason does not. Anywhere else a ``panko_like.NotImplementedError``
is a failure: a driver that lost a method cannot pass for one that
declares it does not have it.
"""

import atexit
import collections
import importlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from typing import Any

import sqlalchemy as sa
from stevedore import driver as stevedore_driver

import panko_like
from panko_like import service, storage
from panko_like.storage import base
from tests.functional import dataset


class Backend:
    #: The backend's name, which is also its URL scheme.
    name = ""
    env = ""
    #: A test server much slower than a production one: size loads down.
    slow = False
    #: Where, under tests/data/panko, the database Panko wrote on this
    #: backend is (None: Panko's data was never dumped from it).
    panko_copy = None

    def driver(self) -> type[base.Connection]:
        """The driver class installed for this backend's URL scheme."""
        return stevedore_driver.DriverManager(
            storage.NAMESPACE, self.name, invoke_on_load=False).driver

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

    def load_panko_copy(self, url: str) -> None:
        """Load the database Panko wrote into the empty one at ``url``."""
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"
    panko_copy = ("sqlite", "panko.sqlite")

    def create(self):
        path = tempfile.mkdtemp(prefix="panko_like_")
        return f"sqlite:///{path}/events.sqlite"

    def drop(self, url):
        shutil.rmtree(os.path.dirname(url[len("sqlite:///"):]))

    def load_panko_copy(self, url):
        shutil.copy(dataset.panko_path(*self.panko_copy),
                    sa.engine.make_url(url).database)


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
    panko_copy = ("postgresql", "panko.sql")

    def load_panko_copy(self, url):
        url = sa.engine.make_url(url)
        subprocess.run(
            ["psql", "-q", "-h", url.host or "127.0.0.1",
             "-p", str(url.port or 5432), "-U", url.username,
             "-d", url.database, "-v", "ON_ERROR_STOP=1",
             "-f", dataset.panko_path(*self.panko_copy)],
            check=True, capture_output=True, timeout=120,
            env={**os.environ, "PGPASSWORD": url.password or ""},
        )

    def create_sql(self, name):
        return f'CREATE DATABASE "{name}"'

    def drop_sql(self, name):
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


class MySQLBackend(SQLServerBackend):
    name = "mysql"
    env = "PANKO_LIKE_TEST_MYSQL_URL"
    panko_copy = ("mysql", "panko.sql")

    def load_panko_copy(self, url):
        # The MariaDB client first: the dump opens with a line of
        # MariaDB's that MySQL's own client refuses.
        url = sa.engine.make_url(url)
        client = shutil.which("mariadb") or shutil.which("mysql")
        with open(dataset.panko_path(*self.panko_copy), "rb") as f:
            subprocess.run(
                [client, "-h", url.host or "127.0.0.1",
                 "-P", str(url.port or 3306), "-u", url.username,
                 *([f"-p{url.password}"] if url.password else []),
                 url.database],
                stdin=f, check=True, capture_output=True, timeout=120,
            )

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
#: The SQL driver's backends, for what only that driver has.
SQL_BACKENDS = ("sqlite", "postgresql", "mysql")
#: The backends that Panko's own database can be loaded into.
PANKO_COPIES = tuple(
    name for name, backend in BACKENDS.items() if backend.panko_copy)


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


def required(value=None) -> set[str]:
    """The backends named by PANKO_LIKE_TEST_REQUIRE (or ``value``): a
    comma-separated list of BACKENDS' names, or ``all``.

    :raises ValueError: for a name that is no backend, which would
        otherwise leave the backend it meant optional, and skipped.
    """
    if value is None:
        value = os.environ.get("PANKO_LIKE_TEST_REQUIRE", "")
    names = {name.strip() for name in value.split(",") if name.strip()}
    # "rabbit": the listener's broker (tests/functional/bus.py).
    unknown = names - set(BACKENDS) - {"all", "rabbit"}
    if unknown:
        raise ValueError(
            f"PANKO_LIKE_TEST_REQUIRE={value!r} names no backend "
            f"{', '.join(sorted(unknown))}: use 'all' or some of "
            f"{', '.join(BACKENDS)}"
        )
    return set(BACKENDS) if "all" in names else names


# Checked on import, so that a misspelt name fails the whole run.
required()


#: The declared capability behind each driver method that a driver may
#: lack (it then raises panko_like.NotImplementedError). Every driver
#: has the others: record_events, upgrade, clear.
CAPABILITY_OF_METHOD = {
    "get_events": "events:query:simple",
    "get_event_types": "events:query:simple",
    "get_trait_types": "events:query:simple",
    "get_traits": "events:query:simple",
    "delete_events": "events:delete",
    "update_traits": "events:update",
    "count_events": "events:query:count",
    "event_statistics": "events:query:statistics",
    "clear_expired_data": "storage:expiry",
    "storage_now": "events:stream",
    "get_events_stored_after": "events:stream",
    "get_stored_keys": "events:stream",
}

#: How the reason of every skip a declared capability explains begins
#: (.ci/run fails on a skip whose reason does not).
CAPABILITY_SKIP = "capability: "


def declared(driver) -> dict[str, Any]:
    """The capabilities a driver (class or connection) declares, flat:
    ``{"events:query:simple": True, "storage:expiry": True, ...}``."""
    return {**base.flatten(driver.get_capabilities()),
            **base.flatten(driver.get_storage_capabilities())}


def capability_skip(driver, key: str) -> str:
    """The reason of a skip because ``driver`` declares ``key`` false."""
    cls = driver if isinstance(driver, type) else type(driver)
    return (f"{CAPABILITY_SKIP}{cls.__module__}.{cls.__qualname__} "
            f"declares {key} false")


def explains(reason: str) -> bool:
    """Whether a skip's ``reason`` is a capability_skip() that is true:
    the driver it names exists and declares that capability false."""
    match = re.fullmatch(
        re.escape(CAPABILITY_SKIP) + r"(\S+)\.(\w+) declares (\S+) false",
        reason or "")
    if match is None:
        return False
    module, name, key = match.groups()
    try:
        driver = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return False
    return (isinstance(driver, type) and issubclass(driver, base.Connection)
            and declared(driver).get(key) is False)


def requires(*keys):
    """Mark a scenario (a test method, or a class of them) as needing
    the capabilities ``keys``: where the driver declares one of them
    false the scenario is skipped before it starts."""

    def mark(target):
        before = (target.__dict__.get("required_capabilities", ())
                  if isinstance(target, type)
                  else getattr(target, "required_capabilities", ()))
        target.required_capabilities = (*before, *keys)
        return target

    return mark


def raised_by(exc) -> tuple[type | None, str | None]:
    """The driver class and the public driver method that ``exc`` was
    raised from (the innermost such frame), or Nones."""
    found = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        name = tb.tb_frame.f_code.co_name
        if isinstance(owner, base.Connection) and not name.startswith("_"):
            found = (type(owner), name)
        tb = tb.tb_next
    return found


class _Captured(logging.Handler):
    """The last lines logged, kept instead of printed.

    A passing run shows none of the errors its scenarios provoke on
    purpose; a failing test shows what was logged while it ran.
    """

    def __init__(self):
        super().__init__()
        self.lines = collections.deque(maxlen=200)
        self.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - logging must not fail a test
            self.handleError(record)


LOGS = _Captured()


def capture_logging():
    """Send what the root logger gets to LOGS alone.

    oslo.log's setup, which every make_conf() runs, gives the root
    logger a console handler again.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler is not LOGS:
            root.removeHandler(handler)
    if LOGS not in root.handlers:
        root.addHandler(LOGS)


def make_conf(url, overrides=None):
    """A fresh ConfigOpts pointing at ``url``.

    ``overrides`` maps ``(group, name)`` to a value.
    """
    conf = service.prepare_service([], config_files=[])
    capture_logging()
    conf.set_override("connection", url, group="database")
    for (group, name), value in (overrides or {}).items():
        conf.set_override(name, value, group=group)
    return conf


class BackendTestCase(unittest.TestCase):
    """Gives each test a fresh, migrated database on ``backend_name``.

    The same scenarios run on every backend. One that needs a capability
    (:func:`requires`) the driver declares false is skipped; so is one
    that reaches a driver method whose capability the driver declares
    false. Any other panko_like.NotImplementedError fails the test.
    """

    backend_name = "sqlite"
    #: The driver class under test; None: the one installed for the
    #: backend's URL scheme.
    driver_class = None
    #: Run the driver's upgrade() before the test.
    auto_upgrade = True
    #: Options of the test's configuration: ``{(group, name): value}``.
    conf_overrides = {}

    def setUp(self):
        super().setUp()
        LOGS.lines.clear()
        backend = BACKENDS[self.backend_name]
        reason = backend.unavailable()
        if reason:
            if self.backend_name in required():
                self.fail(f"backend {self.backend_name} required: {reason}")
            self.skipTest(reason)
        self.skip_unless_declared(self.driver_class or backend.driver())
        self.url = backend.create()
        self.addCleanup(backend.drop, self.url)
        self.conf = make_conf(self.url, self.conf_overrides)
        self.conn = (self.driver_class or storage.get_connection)(
            self.url, self.conf)
        self.addCleanup(self.conn.close)
        if self.auto_upgrade:
            self.conn.upgrade()

    def needed_capabilities(self) -> list[str]:
        """What :func:`requires` says the class and the test need."""
        keys = []
        for cls in reversed(type(self).__mro__):
            keys += cls.__dict__.get("required_capabilities", ())
        method = getattr(self, self._testMethodName, None)
        return keys + list(getattr(method, "required_capabilities", ()))

    def skip_unless_declared(self, driver):
        capabilities = declared(driver)
        for key in self.needed_capabilities():
            if key not in capabilities:
                raise LookupError(
                    f"{self.id()} requires {key!r}, which no driver "
                    f"declares: one of {', '.join(sorted(capabilities))}")
            if not capabilities[key]:
                self.skipTest(capability_skip(driver, key))

    def _callTestMethod(self, method):
        try:
            try:
                method()
            except panko_like.NotImplementedError as exc:
                self._not_implemented(exc)
        except unittest.SkipTest:
            raise
        except Exception as exc:
            if LOGS.lines:
                exc.add_note("Logged during the test:\n"
                             + "\n".join(LOGS.lines))
            raise

    def _not_implemented(self, exc):
        driver, method = raised_by(exc)
        key = CAPABILITY_OF_METHOD.get(method)
        if key is not None and declared(driver).get(key) is False:
            self.skipTest(capability_skip(driver, key))
        if key is None:
            why = (f"{method or 'that'} is no optional method: every "
                   "driver must implement it")
        else:
            why = f"{driver.__module__} declares {key} true"
        raise AssertionError(f"{exc} ({why})") from exc


def make_test_cases(scenarios, base=BackendTestCase, names=tuple(BACKENDS)):
    """One TestCase class per backend in ``names`` from a mixin of tests.

    Select backends by name only for what is a dialect's own (PostgreSQL
    partitions, MySQL's row writing): a difference between drivers is a
    capability, declared by the driver and required with :func:`requires`.
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

"""What each driver declares it can do, exactly, and that the declaration
is true: what a driver declares it has, it implements; what it declares
it lacks raises panko_like.NotImplementedError, naming the method.

The scenarios of every folder are skipped on a driver only by these
declarations (tests/functional/backends.py).
"""

import datetime
import unittest

from stevedore import driver as stevedore_driver

import panko_like
from panko_like import storage
from panko_like.storage import base, impl_log
from tests.functional import backends

_EVERYTHING = (
    {"events": {"query": {"simple": True, "count": True, "statistics": True},
                "delete": True, "update": True,
                "stream": True}},
    {"storage": {"production_ready": True, "expiry": True}},
)

#: What each driver module declares: (get_capabilities(),
#: get_storage_capabilities()). A new driver is added here.
DECLARED = {
    "panko_like.storage.impl_sqlalchemy": _EVERYTHING,
    "panko_like.storage.impl_mongodb": _EVERYTHING,
    "panko_like.storage.impl_log": (
        {"events": {"query": {"simple": False, "count": False,
                              "statistics": False},
                    "delete": False, "update": False,
                    "stream": False}},
        {"storage": {"production_ready": False, "expiry": False}},
    ),
}


def document(driver) -> dict:
    """The ``/v2/capabilities`` answer on ``driver`` (a class)."""
    api, event_storage = DECLARED[driver.__module__]
    return {"api": base.flatten(api),
            "event_storage": base.flatten(event_storage)}


def optional_calls(conn) -> dict:
    """A call of each method that a capability covers, on ``conn``;
    none changes what is stored."""
    return {
        "get_events": lambda: list(conn.get_events(storage.EventFilter())),
        "get_event_types": conn.get_event_types,
        "get_trait_types": lambda: conn.get_trait_types("t"),
        "get_traits": lambda: conn.get_traits("t", "n"),
        "delete_events": lambda: conn.delete_events(
            storage.EventFilter(message_id="no-such-event")),
        "update_traits": lambda: conn.update_traits(
            storage.EventFilter(message_id="no-such-event"), [], ["n"]),
        "count_events": lambda: conn.count_events(storage.EventFilter()),
        "event_statistics": lambda: conn.event_statistics(
            storage.EventFilter(), "event_type", 3600),
        # Nothing is 30 years old.
        "clear_expired_data": lambda: conn.clear_expired_data(10**9, 10),
        "storage_now": conn.storage_now,
        "get_events_stored_after": lambda: conn.get_events_stored_after(
            storage.EventFilter(), None, datetime.datetime(2000, 1, 1), 1),
        "get_stored_keys": lambda: conn.get_stored_keys(
            storage.EventFilter(), datetime.datetime(2000, 1, 1),
            datetime.datetime(2000, 1, 2)),
    }


class TestDeclarations(unittest.TestCase):
    def test_nothing_is_declared_by_default(self):
        self.assertEqual(
            {"events": {"query": {"simple": False, "count": False,
                                  "statistics": False},
                        "delete": False, "update": False,
                    "stream": False}},
            base.Connection.get_capabilities())
        self.assertEqual(
            {"storage": {"production_ready": False, "expiry": False}},
            base.Connection.get_storage_capabilities())

    def test_every_installed_driver(self):
        schemes = storage.installed_drivers()
        self.assertEqual(
            ["log", "mariadb", "mongodb", "mysql", "postgresql", "sqlite"],
            schemes)
        for scheme in schemes:
            with self.subTest(scheme=scheme):
                driver = stevedore_driver.DriverManager(
                    storage.NAMESPACE, scheme, invoke_on_load=False).driver
                self.assertEqual(
                    DECLARED[driver.__module__],
                    (driver.get_capabilities(),
                     driver.get_storage_capabilities()))

    def test_every_optional_method_has_its_capability(self):
        # The methods the base class leaves unimplemented are those a
        # capability covers, plus upgrade, clear and schema_version,
        # which every driver has (health has the base's own body).
        # Every capability but production_ready covers some.
        class Minimal(base.Connection):
            def record_events(self, events):
                return []

        conn = Minimal("x://")
        calls = {**optional_calls(conn), "upgrade": conn.upgrade,
                 "clear": conn.clear, "schema_version": conn.schema_version}
        for name, call in calls.items():
            with self.subTest(method=name):
                self.assertRaises(panko_like.NotImplementedError, call)
        public = {name for name in vars(base.Connection)
                  if not name.startswith("_") and callable(
                      getattr(base.Connection, name))}
        unimplemented = set()
        for name in public - {"record_events", "close", "get_capabilities",
                              "get_storage_capabilities", "health"}:
            if name not in calls:
                self.fail(f"base.Connection.{name} is new: add it to "
                          "backends.CAPABILITY_OF_METHOD or here")
            unimplemented.add(name)
        self.assertEqual(set(calls), unimplemented)
        self.assertEqual(set(backends.CAPABILITY_OF_METHOD),
                         set(calls) - {"upgrade", "clear", "schema_version"})
        self.assertEqual(
            set(backends.CAPABILITY_OF_METHOD.values()),
            set(backends.declared(base.Connection))
            - {"storage:production_ready"})


class TruthScenarios:
    """``self.conn`` implements what it declares, and only that."""

    def test_declared_exactly(self):
        self.assertEqual(
            DECLARED[type(self.conn).__module__],
            (self.conn.get_capabilities(),
             self.conn.get_storage_capabilities()))

    def test_declarations_are_true(self):
        declared = backends.declared(self.conn)
        module = type(self.conn).__module__
        for name, call in optional_calls(self.conn).items():
            key = backends.CAPABILITY_OF_METHOD[name]
            with self.subTest(method=name, capability=key):
                if declared[key]:
                    try:
                        call()
                    except panko_like.NotImplementedError as exc:
                        self.fail(f"{module} declares {key} true: {exc}")
                else:
                    with self.assertRaises(
                            panko_like.NotImplementedError) as ctx:
                        call()
                    self.assertIn(name, str(ctx.exception))
                    self.assertIn(module, str(ctx.exception))


globals().update(backends.make_test_cases(TruthScenarios))


class TestLogDriverTruth(TruthScenarios, unittest.TestCase):
    """The log driver, which declares no query: it stores nothing."""

    def setUp(self):
        super().setUp()
        self.conn = storage.get_connection(
            "log://", backends.make_conf("log://"))
        self.assertIsInstance(self.conn, impl_log.Connection)

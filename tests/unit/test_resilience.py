"""base.Connection's resilience policy: applied to every contract method
a driver defines, once, whatever the driver."""

import gc
import time
import unittest

from panko_like import service, storage
from panko_like.storage import base, models


class Outage(Exception):
    """What the flaky driver below raises while "unreachable"."""


class FlakyDriver(base.Connection):
    """Every contract method fails ``failures`` times, then answers."""

    STORAGE_NAME = "flaky"

    def __init__(self, url, conf=None, failures=1):
        super().__init__(url, conf)
        self.failures = failures
        self.calls = {}

    def _is_unreachable(self, exc):
        return isinstance(exc, Outage)

    def _answer(self, name, value):
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.failures:
            raise Outage(f"{name} lost")
        return value

    def upgrade(self):
        return self._answer("upgrade", "done")

    def schema_version(self):
        return self._answer("schema_version", "1")

    def clear(self):
        return self._answer("clear", None)

    def record_events(self, events):
        self.seen = [event.message_id for event in events]
        self.collector_was_on = gc.isenabled()
        return self._answer("record_events", [])

    def get_events(self, event_filter, pagination=None):
        yield self._answer("get_events", "first")
        yield "second"

    def get_event_types(self):
        return self._answer("get_event_types", ["a"])

    def get_trait_types(self, event_type):
        return self._answer("get_trait_types", [])

    def get_traits(self, event_type, trait_name=None):
        return self._answer("get_traits", [])

    def clear_expired_data(self, ttl, max_count):
        return self._answer("clear_expired_data", 3)

    def delete_events(self, event_filter):
        return self._answer("delete_events", 2)

    def count_events(self, event_filter):
        return self._answer("count_events", 5)

    def event_statistics(self, event_filter, group_by=None, period=None,
                         max_groups=None):
        return self._answer("event_statistics", [])

    def update_traits(self, event_filter, set_traits, remove,
                      max_traits=None):
        return self._answer("update_traits", None)

    def storage_now(self):
        return self._answer("storage_now", "now")

    def get_events_stored_after(self, event_filter, after, until, limit):
        return self._answer("get_events_stored_after", [])

    def get_stored_keys(self, event_filter, since, until, limit=None):
        return self._answer("get_stored_keys", [])


def _conf(retries):
    conf = service.prepare_service([])
    conf.set_override("max_retries", retries, group="database")
    conf.set_override("retry_interval", 0, group="database")
    return conf


def _event(message_id):
    return models.Event(message_id, "t", None, [], {})


CALLS = {
    "upgrade": ((), "done"),
    "schema_version": ((), "1"),
    "clear": ((), None),
    "get_event_types": ((), ["a"]),
    "get_trait_types": (("t",), []),
    "get_traits": (("t",), []),
    "clear_expired_data": ((60, 10), 3),
    "delete_events": ((storage.EventFilter(),), 2),
    "count_events": ((storage.EventFilter(),), 5),
    "event_statistics": ((storage.EventFilter(),), []),
    "update_traits": ((storage.EventFilter(message_id="m"), [], ["n"]),
                      None),
    "storage_now": ((), "now"),
    "get_events_stored_after": ((storage.EventFilter(), None, None, 1), []),
    "get_stored_keys": ((storage.EventFilter(), None, None), []),
}


class TestResilience(unittest.TestCase):
    def test_every_contract_method_is_retried(self):
        self.assertEqual(set(base.RESILIENT_METHODS),
                         {*CALLS, "record_events", "get_events"})
        conn = FlakyDriver("flaky://", _conf(2))
        for name, (args, answer) in CALLS.items():
            with self.subTest(method=name):
                self.assertEqual(answer, getattr(conn, name)(*args))
                self.assertEqual(2, conn.calls[name])

    def test_lazy_answer_is_retried_until_its_first_item(self):
        conn = FlakyDriver("flaky://", _conf(2))
        answer = conn.get_events(storage.EventFilter())
        # The first item was fetched by the call, under the policy.
        self.assertEqual(2, conn.calls["get_events"])
        self.assertEqual(["first", "second"], list(answer))

    def test_a_retried_batch_is_sent_whole_again(self):
        conn = FlakyDriver("flaky://", _conf(2))
        batch = (_event(f"m{i}") for i in range(3))
        self.assertEqual([], conn.record_events(batch))
        self.assertEqual(2, conn.calls["record_events"])
        self.assertEqual(["m0", "m1", "m2"], conn.seen)
        self.assertFalse(conn.collector_was_on)
        self.assertTrue(gc.isenabled())

    def test_outage_beyond_the_retries_is_storage_unavailable(self):
        conn = FlakyDriver("flaky://", _conf(1), failures=5)
        for name, (args, _) in CALLS.items():
            with self.subTest(method=name):
                with self.assertRaisesRegex(storage.StorageUnavailable,
                                            f"flaky unreachable: {name}"):
                    getattr(conn, name)(*args)
                self.assertEqual(2, conn.calls[name])

    def test_waits_within_a_deadline_stay_short(self):
        """An API request (a deadline) retries twice a second or more,
        whatever retry_interval says, so that it finds a promoted
        standby soon after the promotion."""
        conn = FlakyDriver("flaky://", _conf(10), failures=4)
        conn.conf.set_override("retry_interval", 10, group="database")
        conn.retry_deadline = 30
        attempts = []
        answer = conn._answer

        def timed(name, value):
            attempts.append(time.monotonic())
            return answer(name, value)
        conn._answer = timed
        self.assertEqual(["a"], conn.get_event_types())
        gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
        # 0.2, 0.4, 0.5 and 0.5 s: never the 0.8 and 1.6 s that
        # doubling gives.
        self.assertEqual(4, len(gaps))
        self.assertLess(max(gaps), base.DEADLINE_WAIT_CAP + 0.25)

    def test_other_errors_are_not_retried(self):
        class Broken(FlakyDriver):
            def get_event_types(self):
                self.calls["get_event_types"] = 1
                raise ValueError("bad request")

        conn = Broken("flaky://", _conf(5))
        self.assertRaises(ValueError, conn.get_event_types)
        self.assertEqual(1, conn.calls["get_event_types"])

    def test_nested_calls_are_retried_once(self):
        class Nested(FlakyDriver):
            def get_event_types(self):
                # A contract method calling another: the outer call
                # retries, the inner one does not multiply the attempts.
                return self.get_traits("t") or ["a"]

        conn = Nested("flaky://", _conf(3), failures=1)
        self.assertEqual(["a"], conn.get_event_types())
        self.assertEqual(2, conn.calls["get_traits"])


class TestSQLClassification(unittest.TestCase):
    """Only the database's own errors are read for a resource or a
    refused configuration: the same words in another exception (a bad
    argument, the driver's own) classify nothing."""

    def test_other_exceptions_are_not_classified(self):
        from panko_like.storage.sqlalchemy import engine

        for text in ("disk is full: no space left on device",
                     'database "x" does not exist'):
            with self.subTest(text=text):
                self.assertIsNone(engine.resource_problem(ValueError(text)))
                self.assertIsNone(engine.misconfiguration(ValueError(text)))


class TestOneLine(unittest.TestCase):
    def test_first_line_or_repr(self):
        self.assertEqual("a", storage.one_line(ValueError(" a\nb")))
        # A message of blanks only has no first line to show.
        self.assertEqual("ValueError(' \\n ')",
                         storage.one_line(ValueError(" \n ")))

"""The SQL driver's expirer and writers on the same event type: its
locks, between the steps of a writer's transaction."""

import datetime
import threading

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import partitions
from tests.functional import backends


class _Paused:
    """Holds a writer just after one step of its batch transaction.

    Wraps one method of the writer's own Connection: the real method
    runs, then the writer's thread waits until ``release()`` (or 30 s),
    inside its open transaction.
    """

    def __init__(self, conn, method):
        self.reached = threading.Event()
        self._released = threading.Event()
        step = getattr(conn, method)

        def paused(*args, **kwargs):
            result = step(*args, **kwargs)
            self.reached.set()
            self._released.wait(30)
            return result

        setattr(conn, method, paused)

    def release(self):
        self._released.set()


class _Thread(threading.Thread):
    """A thread that keeps what its function returned or raised."""

    def __init__(self, function):
        super().__init__(daemon=True)
        self._function = function
        self.result = self.error = None

    def run(self):
        try:
            self.result = self._function()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


class ExpiryWhileWritingScenarios:
    """The expirer removes an event type's last events while a writer
    stores a new event of that type.

    The writer is held between the steps of the SQL driver's batch
    transaction (its private methods), hence SQL only.
    """

    TYPE = "compute.instance.exists"
    #: Hours after the start of a day 10 days ago of the cutoff and of
    #: the kept event (another type); the expired event is at 01:00.
    #: Here all three are in one day, so PostgreSQL deletes rows rather
    #: than drop the day's partition.
    CUTOFF, KEPT = 12, 23

    def setUp(self):
        super().setUp()
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        day = (now - datetime.timedelta(days=10)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        self.ttl = (now - (day + datetime.timedelta(hours=self.CUTOFF))
                    ).total_seconds()
        self.old_generated = day + datetime.timedelta(hours=1)
        old = self.event("old", self.old_generated)
        kept = self.event("kept", day + datetime.timedelta(hours=self.KEPT),
                          "compute.instance.other")
        self.assertEqual([], self.conn.record_events([old, kept]))
        self.writer = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.writer.close)
        self.expirer = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.expirer.close)

    def event(self, name, generated, event_type=TYPE):
        return models.Event(f"msg-{name}", event_type, generated, [
            models.Trait("instance_id", models.TEXT_TYPE, f"i-{name}"),
            models.Trait("memory_mb", models.INT_TYPE, 512),
        ])

    def expire_while_paused(self, step):
        """Pause the writer after ``step``, expire meanwhile, release;
        return the expirer's thread once both have ended."""
        paused = _Paused(self.writer._writer, step)
        new = self.event("new", datetime.datetime.now(datetime.UTC)
                         .replace(tzinfo=None, microsecond=0))
        writer = _Thread(lambda: self.writer.record_events([new]))
        writer.start()
        self.assertTrue(paused.reached.wait(30), "the writer never paused")
        expirer = _Thread(
            lambda: self.expirer.clear_expired_data(self.ttl, 100))
        expirer.start()
        # Let the expirer finish, or reach a lock the writer holds.
        expirer.join(3)
        paused.release()
        writer.join(60)
        expirer.join(60)
        self.assertFalse(writer.is_alive() or expirer.is_alive())
        self.assertIsNone(writer.error)
        self.assertEqual([], writer.result)
        return expirer

    def assert_new_event_whole(self):
        names = [e.message_id for e in self.conn.get_events(
            storage.EventFilter(event_type=self.TYPE))]
        self.assertEqual(["msg-new"], names)
        self.assertIn(self.TYPE, self.conn.get_event_types())
        self.assertEqual(
            [{"name": "instance_id", "data_type": models.TEXT_TYPE},
             {"name": "memory_mb", "data_type": models.INT_TYPE}],
            sorted(self.conn.get_trait_types(self.TYPE),
                   key=lambda trait: trait["name"]))
        kept = [e.message_id for e in self.conn.get_events(
            storage.EventFilter(event_type="compute.instance.other"))]
        self.assertEqual(["msg-kept"], kept)

    def test_expiry_while_a_batch_of_that_type_commits(self):
        # The writer has stored its event and its trait types: neither
        # the type nor its trait types may go, and the expirer must not
        # fail because of them.
        expirer = self.expire_while_paused("insert_summary")
        self.assertIsNone(expirer.error)
        self.assertEqual(1, expirer.result)
        self.assert_new_event_whole()

    def test_expiry_between_type_lookup_and_write(self):
        # The writer has looked its event type up but written nothing:
        # the expirer may remove the type, and the writer must then
        # store its event under the type made anew.
        expirer = self.expire_while_paused("event_type_ids")
        self.assertIsNone(expirer.error)
        self.assertEqual(1, expirer.result)
        self.assert_new_event_whole()


globals().update(backends.make_test_cases(
    ExpiryWhileWritingScenarios, names=backends.SQL_BACKENDS))


class ExpiryOfWholeDaysWhileWritingScenarios(ExpiryWhileWritingScenarios):
    """The same on PostgreSQL when the expired event's day partition is
    dropped whole: the cutoff and the kept event are a day later."""

    CUTOFF, KEPT = 36, 47
    conf_overrides = {("database", "partition_days"): 1}

    def assert_new_event_whole(self):
        super().assert_new_event_whole()
        with self.conn.engine.connect() as conn:
            days = [first for first, _, _ in partitions.partition_days(conn)]
        self.assertNotIn(partitions.event_day(self.old_generated), days)
        self.assertIn(partitions.event_day(self.old_generated) + 1, days)


# Only PostgreSQL's tables are partitioned by day.
globals().update(backends.make_test_cases(
    ExpiryOfWholeDaysWhileWritingScenarios, names=("postgresql",)))

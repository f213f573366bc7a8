"""Stored time, counts, statistics and bounded deletes, on every backend
whose driver declares them."""

import datetime
import time

from panko_like import storage
from panko_like.storage import models
from tests.functional import backends

Trait = models.Trait
T0 = datetime.datetime(2026, 3, 1, 0, 0, 0)


def ev(message_id, event_type="compute.instance.create.end",
       generated=T0, project=None, host=None):
    traits = []
    if project is not None:
        traits.append(Trait("project_id", models.TEXT_TYPE, project))
    if host is not None:
        traits.append(Trait("host", models.TEXT_TYPE, host))
    return models.Event(message_id, event_type, generated, traits, None)


def hours(n):
    return datetime.timedelta(hours=n)


def lines(stats):
    return [(line.group, line.start, line.count) for line in stats]


@backends.requires("events:query:simple")
class StoredTimeScenarios:
    def test_stored_at_is_the_storage_clock(self):
        before = models.utc_now() - datetime.timedelta(seconds=2)
        self.assertEqual([], self.conn.record_events([ev("a")]))
        after = models.utc_now() + datetime.timedelta(seconds=2)
        event, = self.conn.get_events(storage.EventFilter())
        self.assertIsNotNone(event.stored_at)
        self.assertTrue(before <= event.stored_at <= after,
                        (before, event.stored_at, after))
        self.assertIsNone(event.updated_at)

    def test_stored_filters(self):
        self.assertEqual([], self.conn.record_events([ev("first")]))
        first, = self.conn.get_events(storage.EventFilter())
        # Later than the first on every clock, SQLite's milliseconds
        # included.
        time.sleep(0.05)
        self.assertEqual([], self.conn.record_events(
            [ev("second", generated=T0 - hours(1))]))
        second, = self.conn.get_events(
            storage.EventFilter(message_id="second"))
        self.assertLess(first.stored_at, second.stored_at)

        def ids(**kwargs):
            return [e.message_id for e in self.conn.get_events(
                storage.EventFilter(**kwargs))]

        self.assertEqual(["second"], ids(stored_since=second.stored_at))
        self.assertEqual(["first"], ids(stored_before=second.stored_at))
        self.assertEqual([], ids(stored_since=first.stored_at,
                                 stored_before=first.stored_at))
        self.assertEqual(["second", "first"],
                         ids(stored_since=first.stored_at))
        # An aware time is taken in UTC.
        aware = second.stored_at.replace(tzinfo=datetime.UTC).astimezone(
            datetime.timezone(datetime.timedelta(hours=5)))
        self.assertEqual(["second"], ids(stored_since=aware))


@backends.requires("events:query:count")
class CountScenarios:
    def setUp(self):
        super().setUp()
        events = [ev(f"e{i:03d}", event_type=f"type.{i % 3}",
                     generated=T0 + datetime.timedelta(minutes=17 * i),
                     project=f"p{i % 2}") for i in range(30)]
        self.assertEqual([], self.conn.record_events(events))

    def test_count_matches_the_listing(self):
        for event_filter in (
                storage.EventFilter(),
                storage.EventFilter(event_type="type.1"),
                storage.EventFilter(traits_filter=[
                    storage.TraitFilter("project_id", "string", "p0")]),
                storage.EventFilter(start_timestamp=T0 + hours(2),
                                    end_timestamp=T0 + hours(5)),
                storage.EventFilter(admin_proj="p1"),
                storage.EventFilter(event_type="no.such.type")):
            listed = len(list(self.conn.get_events(event_filter)))
            self.assertEqual(listed, self.conn.count_events(event_filter),
                             event_filter)
        self.assertEqual(10, self.conn.count_events(
            storage.EventFilter(event_type="type.1")))


@backends.requires("events:query:statistics")
class StatisticsScenarios:
    def setUp(self):
        super().setUp()
        self.events = [
            ev("a", "t.x", T0 + datetime.timedelta(minutes=5), "p1", "h1"),
            ev("b", "t.x", T0 + datetime.timedelta(minutes=65), "p1", "h2"),
            ev("c", "t.y", T0 + datetime.timedelta(minutes=70), "p2"),
            ev("d", "t.x", T0 + datetime.timedelta(minutes=75), None, "h1"),
            ev("e", "t.y", T0 + datetime.timedelta(minutes=185), "p1", "h1"),
        ]
        self.assertEqual([], self.conn.record_events(self.events))

    def stats(self, group_by=None, period=None, event_filter=None,
              max_groups=None):
        return lines(self.conn.event_statistics(
            event_filter or storage.EventFilter(), group_by, period,
            max_groups))

    def test_total(self):
        self.assertEqual([(None, None, 5)], self.stats())

    def test_by_event_type(self):
        self.assertEqual([("t.x", None, 3), ("t.y", None, 2)],
                         self.stats("event_type"))

    def test_by_project_with_events_without_one(self):
        self.assertEqual([(None, None, 1), ("p1", None, 3), ("p2", None, 1)],
                         self.stats("project_id"))

    def test_by_trait_and_hour(self):
        self.assertEqual([
            (None, T0 + hours(1), 1),
            ("h1", T0, 1), ("h1", T0 + hours(1), 1), ("h1", T0 + hours(3), 1),
            ("h2", T0 + hours(1), 1),
        ], self.stats("host", 3600))

    def test_by_period_within_a_filter(self):
        self.assertEqual([(None, T0, 1), (None, T0 + hours(1), 2)],
                         self.stats(period=3600, event_filter=storage.
                                    EventFilter(event_type="t.x")))
        self.assertEqual([(None, T0, 4), (None, T0 + hours(3), 1)],
                         self.stats(period=3 * 3600))

    def test_long_project_ids_are_grouped_by_their_value(self):
        long_project = "p" * 300  # longer than event.project_id keeps
        self.assertEqual([], self.conn.record_events(
            [ev("long", "t.z", T0, long_project)]))
        self.assertIn((long_project, None, 1), self.stats("project_id"))

    def test_too_many_groups(self):
        self.assertEqual(2, len(self.stats("event_type", max_groups=2)))
        self.assertRaises(storage.TooManyGroups, self.stats,
                          "host", 3600, max_groups=4)


@backends.requires("events:delete")
class BoundedDeleteScenarios:
    def test_deletes_at_most_max_count_per_call(self):
        events = [ev(f"e{i:02d}", project="p1" if i < 25 else "p2")
                  for i in range(30)]
        self.assertEqual([], self.conn.record_events(events))
        in_p1 = storage.EventFilter(traits_filter=[
            storage.TraitFilter("project_id", "string", "p1")])
        counts = []
        while deleted := self.conn.delete_events(in_p1, max_count=10):
            counts.append(deleted)
        self.assertEqual([10, 10, 5], counts)
        left = [e.message_id for e in self.conn.get_events(
            storage.EventFilter())]
        self.assertEqual([f"e{i:02d}" for i in range(25, 30)], left)


for _scenarios in (StoredTimeScenarios, CountScenarios, StatisticsScenarios,
                   BoundedDeleteScenarios):
    globals().update(backends.make_test_cases(_scenarios))

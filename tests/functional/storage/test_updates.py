"""update_traits: an event's traits set and removed, on every backend
whose driver declares events:update."""

import concurrent.futures
import datetime
import threading

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema
from tests.functional import backends

Trait = models.Trait
T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, 123456)
WHEN = datetime.datetime(2026, 2, 1, 8, 30, 0, 654321)
#: Threads updating one event at once.
UPDATERS = 10


def ev(message_id, traits, raw=None):
    return models.Event(message_id, "compute.instance.update", T0,
                        traits, raw)


def one(message_id, **filters):
    return storage.EventFilter(message_id=message_id, **filters)


def shown(event):
    return [(t.name, t.dtype, t.value) for t in event.traits]


@backends.requires("events:update", "events:query:simple")
class UpdateScenarios:
    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events([
            ev("a", [Trait("host", models.TEXT_TYPE, "h1"),
                     Trait("project_id", models.TEXT_TYPE, "p1"),
                     Trait("size", models.INT_TYPE, 3)],
               raw={"payload": {"x": 1}}),
            ev("b", [Trait("project_id", models.TEXT_TYPE, "p2")]),
        ]))

    def read(self, message_id):
        event, = self.conn.get_events(one(message_id))
        return event

    def test_sets_replaces_and_removes(self):
        before = models.utc_now() - datetime.timedelta(seconds=2)
        updated = self.conn.update_traits(
            one("a"),
            [Trait("size", models.FLOAT_TYPE, 4.5),
             Trait("seen", models.DATETIME_TYPE, WHEN),
             Trait("zone", models.TEXT_TYPE, "z1")],
            ["host", "absent"])
        after = models.utc_now() + datetime.timedelta(seconds=2)
        expected = [("project_id", models.TEXT_TYPE, "p1"),
                    ("seen", models.DATETIME_TYPE, WHEN),
                    ("size", models.FLOAT_TYPE, 4.5),
                    ("zone", models.TEXT_TYPE, "z1")]
        self.assertEqual(expected, shown(updated))
        stored = self.read("a")
        self.assertEqual(expected, shown(stored))
        # What never changes.
        self.assertEqual(("a", "compute.instance.update", T0,
                          {"payload": {"x": 1}}),
                         (stored.message_id, stored.event_type,
                          stored.generated, stored.raw))
        self.assertTrue(before <= stored.updated_at <= after,
                        (before, stored.updated_at, after))
        self.assertEqual(stored.updated_at, updated.updated_at)
        self.assertEqual(stored.stored_at, updated.stored_at)
        self.assertIsNone(self.read("b").updated_at)

    def test_filters_and_summaries_follow(self):
        self.conn.update_traits(
            one("a"), [Trait("host", models.TEXT_TYPE, "h2"),
                       Trait("zone", models.TEXT_TYPE, "z1")], ["size"])

        def ids(key, value, type_="string"):
            return [e.message_id for e in self.conn.get_events(
                storage.EventFilter(traits_filter=[
                    storage.TraitFilter(key, type_, value)]))]

        self.assertEqual([], ids("host", "h1"))
        self.assertEqual(["a"], ids("host", "h2"))
        self.assertEqual(["a"], ids("zone", "z1"))
        self.assertEqual([], ids("size", 3, "integer"))
        types = self.conn.get_trait_types("compute.instance.update")
        self.assertIn({"name": "zone", "data_type": models.TEXT_TYPE}, types)
        self.assertNotIn({"name": "size", "data_type": models.INT_TYPE},
                         types)
        self.assertEqual(
            [("host", models.TEXT_TYPE, "h2")],
            [(t.name, t.dtype, t.value) for t in self.conn.get_traits(
                "compute.instance.update", "host")])

    def test_project_change_moves_the_event(self):
        self.conn.update_traits(
            one("a"), [Trait("project_id", models.TEXT_TYPE, "p2")], [])
        in_p2 = [e.message_id for e in self.conn.get_events(
            storage.EventFilter(admin_proj="p2"))]
        self.assertEqual(["a", "b"], sorted(in_p2))
        self.conn.update_traits(one("b"), [], ["project_id"])
        # Without a project_id, every admin sees it.
        in_p1 = [e.message_id for e in self.conn.get_events(
            storage.EventFilter(admin_proj="p1"))]
        self.assertEqual(["b"], in_p1)

    def test_scope_of_the_filter(self):
        self.assertIsNone(self.conn.update_traits(
            one("a", admin_proj="p2"),
            [Trait("x", models.TEXT_TYPE, "y")], []))
        self.assertIsNone(self.conn.update_traits(
            one("missing"), [Trait("x", models.TEXT_TYPE, "y")], []))
        self.assertIsNone(self.read("a").updated_at)
        found = self.conn.update_traits(
            one("a", admin_proj="p1"),
            [Trait("x", models.TEXT_TYPE, "y")], [])
        self.assertEqual("a", found.message_id)

    def test_invalid_updates_change_nothing(self):
        for set_traits, remove in (
                ([], []),
                ([Trait("host", models.TEXT_TYPE, "h")], ["host"]),
                ([Trait("n", models.INT_TYPE, "nope")], []),
                ([Trait("n", models.INT_TYPE, 1),
                  Trait("n", models.INT_TYPE, 2)], []),
                ([], [""]),
        ):
            with self.subTest(set_traits=set_traits, remove=remove):
                self.assertRaises(
                    models.InvalidEvent, self.conn.update_traits,
                    one("a"), set_traits, remove)
        with self.assertRaises(models.InvalidEvent) as caught:
            self.conn.update_traits(
                one("a"), [Trait("t1", models.TEXT_TYPE, "1"),
                           Trait("t2", models.TEXT_TYPE, "2")], ["host"],
                max_traits=3)
        self.assertEqual(models.Problem.TOO_LARGE, caught.exception.problem)
        stored = self.read("a")
        self.assertEqual(["host", "project_id", "size"],
                         [t.name for t in stored.traits])
        self.assertIsNone(stored.updated_at)
        # At the limit is fine.
        self.conn.update_traits(
            one("a"), [Trait("t1", models.TEXT_TYPE, "1")], ["host"],
            max_traits=3)

    def test_a_name_given_with_two_types(self):
        self.conn.update_traits(
            one("a"), [Trait("size", models.TEXT_TYPE, "large"),
                       Trait("size", models.INT_TYPE, 7)], [])
        self.assertEqual(
            [("size", models.TEXT_TYPE, "large"),
             ("size", models.INT_TYPE, 7)],
            [s for s in shown(self.read("a")) if s[0] == "size"])

    def test_updated_at_moves_on(self):
        first = self.conn.update_traits(
            one("a"), [Trait("n", models.INT_TYPE, 1)], [])
        second = self.conn.update_traits(
            one("a"), [Trait("n", models.INT_TYPE, 1)], [])
        self.assertLessEqual(first.updated_at, second.updated_at)
        # Idempotent: the same update again leaves the same traits.
        self.assertEqual(shown(first), shown(second))

    def test_concurrent_updates_lose_none(self):
        # Each thread sets its own trait on the same event at once; the
        # connection's pool (or client) gives each its own session.
        start = threading.Barrier(UPDATERS)

        def update(n):
            start.wait()
            return self.conn.update_traits(
                one("a"), [Trait(f"t{n:02d}", models.INT_TYPE, n)], [])

        with concurrent.futures.ThreadPoolExecutor(UPDATERS) as pool:
            results = list(pool.map(update, range(UPDATERS)))
        self.assertTrue(all(result is not None for result in results))
        names = [t.name for t in self.read("a").traits]
        self.assertEqual(
            ["host", "project_id", "size"]
            + [f"t{n:02d}" for n in range(UPDATERS)], names)


@backends.requires("events:update")
class OldRowScenarios:
    """Events written before revision 0004 keep their traits in the trait
    tables alone (event.traits is NULL)."""

    def test_traits_read_from_the_tables(self):
        self.assertEqual([], self.conn.record_events([
            ev("old", [Trait("host", models.TEXT_TYPE, "h1"),
                       Trait("seen", models.DATETIME_TYPE, WHEN),
                       Trait("size", models.INT_TYPE, 3)])]))
        with self.conn.engine.begin() as conn:
            conn.execute(sa.text("UPDATE event SET traits = NULL"))
        updated = self.conn.update_traits(
            one("old"), [Trait("zone", models.TEXT_TYPE, "z")], ["size"])
        expected = [("host", models.TEXT_TYPE, "h1"),
                    ("seen", models.DATETIME_TYPE, WHEN),
                    ("zone", models.TEXT_TYPE, "z")]
        self.assertEqual(expected, shown(updated))
        with self.conn.engine.connect() as conn:
            self.assertIsNotNone(conn.scalar(sa.text(
                "SELECT traits FROM event")))
            keys = [name for table, _ in schema.TABLE_DTYPES
                    for name in conn.scalars(sa.select(table.c.key))]
            self.assertEqual(["host", "seen", "zone"], sorted(keys))

    def test_id_columns_follow(self):
        self.assertEqual([], self.conn.record_events([
            ev("e", [Trait("project_id", models.TEXT_TYPE, "p1"),
                     Trait("user_id", models.TEXT_TYPE, "u1")])]))
        self.conn.update_traits(
            one("e"), [Trait("project_id", models.TEXT_TYPE, "p2")],
            ["user_id"])
        with self.conn.engine.connect() as conn:
            self.assertEqual(("p2", None), tuple(conn.execute(sa.text(
                "SELECT project_id, user_id FROM event")).one()))


for _scenarios in (UpdateScenarios,):
    globals().update(backends.make_test_cases(_scenarios))
globals().update(backends.make_test_cases(
    OldRowScenarios, names=backends.SQL_BACKENDS))

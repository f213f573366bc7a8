"""The storage contract, run unchanged against every backend."""

import datetime
import gc

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema as tables
from tests.functional import backends, dataset

Event = models.Event
Trait = models.Trait
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 123456)


def ev(message_id, event_type="compute.instance.create.end", generated=T0,
       traits=(), raw=None):
    return Event(message_id, event_type, generated, list(traits), raw)


#: Events on host h-1 among those store_hosts stores.
ON_H1 = storage.EventFilter(traits_filter=[
    storage.TraitFilter("host", "string", "h-1")])


def store_hosts(test, count=2600):
    """Store ``count`` events, every other one on host h-1; return the
    message ids of those, in the default order."""
    events = [ev(f"e{i:05d}", generated=T0 + datetime.timedelta(
        seconds=i % 11), traits=[
            Trait("host", models.TEXT_TYPE, f"h-{i % 2}"),
            Trait("i", models.INT_TYPE, i)]) for i in range(count)]
    test.assertEqual([], test.conn.record_events(events))
    on_h1 = [e for e in events if e.traits[0].value == "h-1"]
    on_h1.sort(key=lambda e: (e.generated, e.message_id))
    return [e.message_id for e in on_h1]


def message_ids(conn, event_filter, pagination=None):
    return [e.message_id for e in conn.get_events(event_filter, pagination)]


@backends.requires("events:query:simple")
class StorageScenarios:
    """Every test gets a fresh, migrated database in ``self.conn``.

    Each scenario writes through record_events and checks what the
    queries answer, so every one needs events:query:simple.
    """

    def ids(self, event_filter=None, pagination=None):
        return [
            e.message_id
            for e in self.conn.get_events(
                event_filter or storage.EventFilter(), pagination
            )
        ]

    def record_ok(self, events):
        self.assertEqual([], self.conn.record_events(events))

    def test_any_valid_time_stores_and_reads_back(self):
        times = [datetime.datetime(1, 1, 1),
                 datetime.datetime(1600, 2, 29, 12, 0, 0, 1),
                 datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)]
        self.record_ok([ev(f"t{n}", generated=at)
                        for n, at in enumerate(times)])
        for n, at in enumerate(times):
            (got,) = self.conn.get_events(storage.EventFilter(
                start_timestamp=at, end_timestamp=at))
            self.assertEqual((f"t{n}", at), (got.message_id, got.generated))

    def test_upgrade_is_idempotent(self):
        self.conn.upgrade()
        self.record_ok([ev("a")])
        self.conn.upgrade()
        self.assertEqual(["a"], self.ids())

    def test_batch_written_with_the_collector_off(self):
        # Every driver's record_events holds the cyclic collector off
        # while it checks and writes a batch (base.collector_paused),
        # and turns it on again after. How many passes that saves is a
        # figure of tools/bench.py, not a test.
        self.assertTrue(gc.isenabled())
        seen = []

        class Watched(Event):
            __slots__ = ()

            def validate_traits(self):
                seen.append(gc.isenabled())
                return super().validate_traits()

        events = [Watched(f"gc-{i}", "compute.instance.create.end", T0,
                          [Trait("n", models.INT_TYPE, i)])
                  for i in range(3)]
        self.record_ok(events)
        self.assertEqual([False] * 3, seen)
        self.assertTrue(gc.isenabled())
        self.assertEqual(3, len(self.ids()))

    # Round trips

    def test_round_trip_every_type(self):
        event = ev(
            "m-1",
            traits=[
                Trait("name", models.TEXT_TYPE, "Zürich-Straße 🚀"),
                Trait("untyped", models.NONE_TYPE, "x"),
                Trait("size", models.INT_TYPE, 2**63 - 1),
                Trait("neg", models.INT_TYPE, -(2**63)),
                Trait("ratio", models.FLOAT_TYPE, 0.30000000000000004),
                Trait("tiny", models.FLOAT_TYPE, 1e-300),
                Trait("at", models.DATETIME_TYPE,
                      datetime.datetime(2020, 2, 29, 23, 59, 59, 999999)),
                Trait("empty", models.TEXT_TYPE, None),
            ],
            raw={"payload": {"nested": [1, 2.5, "ü"]}, "n": None},
        )
        self.record_ok([event])
        (got,) = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(dataset.normalized(event), dataset.normalized(got))
        self.assertEqual(T0, got.generated)

    def test_raw_variants(self):
        self.record_ok([
            ev("none", raw=None), ev("empty", raw={}), ev("list", raw=[1]),
        ])
        raws = {e.message_id: e.raw
                for e in self.conn.get_events(storage.EventFilter())}
        self.assertEqual({"none": None, "empty": {}, "list": [1]}, raws)

    def test_aware_datetimes_become_naive_utc(self):
        plus2 = datetime.timezone(datetime.timedelta(hours=2))
        self.record_ok([
            ev("tz", generated=datetime.datetime(2026, 1, 1, 14, 0, 0, 5,
                                                 tzinfo=plus2),
               traits=[Trait("at", models.DATETIME_TYPE,
                             "2026-01-01T02:00:00.000001+02:00")]),
        ])
        (got,) = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(datetime.datetime(2026, 1, 1, 12, 0, 0, 5),
                         got.generated)
        self.assertEqual(datetime.datetime(2026, 1, 1, 0, 0, 0, 1),
                         got.traits[0].value)

    def test_panko_dataset_round_trip(self):
        events = dataset.panko_events()
        self.record_ok(events)
        got = {e.message_id: dataset.normalized(e)
               for e in self.conn.get_events(storage.EventFilter())}
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in events}, got
        )

    def test_long_text_stored_whole_up_to_the_limit(self):
        longest = "é" * models.MAX_TEXT_LENGTH
        rejected = self.conn.record_events([
            ev("ok", traits=[Trait("t", 1, longest)]),
            ev("long", traits=[Trait("t", 1, longest + "x")]),
        ])
        self.assertEqual(["long"], [r.message_id for r in rejected])
        self.assertEqual(models.Problem.TOO_LARGE, rejected[0].problem)
        (got,) = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(longest, got.traits[0].value)

    def test_raw_too_large_is_refused(self):
        big = {"blob": "x" * models.MAX_RAW_SIZE}
        rejected = self.conn.record_events([ev("big", raw=big), ev("ok")])
        self.assertEqual([("big", models.Problem.TOO_LARGE)],
                         [(r.message_id, r.problem) for r in rejected])
        self.assertEqual(["ok"], self.ids())

    # Duplicates and bad events

    def test_duplicates_within_a_batch(self):
        rejected = self.conn.record_events([
            ev("a", raw={"n": 1}), ev("a", raw={"n": 2}), ev("b"),
        ])
        self.assertEqual([("a", models.Problem.DUPLICATE)],
                         [(r.message_id, r.problem) for r in rejected])
        self.assertEqual(["a", "b"], sorted(self.ids()))
        (first,) = list(self.conn.get_events(
            storage.EventFilter(message_id="a")))
        self.assertEqual({"n": 1}, first.raw)

    def test_duplicates_across_batches(self):
        self.record_ok([ev("a"), ev("b")])
        rejected = self.conn.record_events([ev("b"), ev("c"), ev("a")])
        self.assertEqual(
            [("a", "duplicate"), ("b", "duplicate")],
            sorted((r.message_id, r.problem.value) for r in rejected),
        )
        self.assertEqual(["a", "b", "c"], sorted(self.ids()))

    def test_resent_batch_is_safe(self):
        events = dataset.panko_events()[:50]
        self.record_ok(events)
        rejected = self.conn.record_events(dataset.panko_events()[:60])
        self.assertEqual(50, len(rejected))
        self.assertEqual(60, len(self.ids()))

    def test_mixed_good_and_bad_batch(self):
        rejected = self.conn.record_events([
            ev("good-1", traits=[Trait("n", models.INT_TYPE, "42")]),
            ev("bad-int", traits=[Trait("n", models.INT_TYPE, "abc")]),
            ev("bad-range", traits=[Trait("n", models.INT_TYPE, 2**63)]),
            ev("bad-float", traits=[Trait("f", models.FLOAT_TYPE, "nan")]),
            ev("bad-date", traits=[Trait("d", models.DATETIME_TYPE, "x")]),
            ev("bad-dtype", traits=[Trait("d", 9, "x")]),
            ev("bad-nul", traits=[Trait("s", models.TEXT_TYPE, "a\x00b")]),
            ev("twice", traits=[Trait("s", 1, "a"), Trait("s", 1, "b")]),
            ev("x" * 51),
            ev("bad-type", event_type=""),
            ev("nul-type", event_type="a\x00b"),
            ev("nul-name", traits=[Trait("a\x00", models.TEXT_TYPE, "v")]),
            ev("good-2", traits=[Trait("f", models.FLOAT_TYPE, "2.5")]),
        ])
        problems = {r.message_id: r.problem for r in rejected}
        self.assertEqual(
            {
                "bad-int": "incompatible_trait",
                "bad-range": "incompatible_trait",
                "bad-float": "incompatible_trait",
                "bad-date": "incompatible_trait",
                "bad-dtype": "incompatible_trait",
                "bad-nul": "incompatible_trait",
                "twice": "incompatible_trait",
                "x" * 51: "invalid",
                "bad-type": "invalid",
                "nul-type": "invalid",
                "nul-name": "invalid",
            },
            {k: v.value for k, v in problems.items()},
        )
        for r in rejected:
            self.assertTrue(r.reason)
        self.assertEqual(["good-1", "good-2"], sorted(self.ids()))
        # Nothing half-written: only the good events' traits exist.
        traits = self.conn.get_traits("compute.instance.create.end")
        self.assertEqual([("f", 2.5), ("n", 42)],
                         sorted((t.name, t.value) for t in traits))

    def test_bad_trait_or_payload_among_good_events(self):
        # Every head is valid: on PostgreSQL the batch is first written
        # while its traits are checked, then rolled back and stored
        # again without the bad ones.
        good = [ev(f"good-{i:02d}", generated=T0 + datetime.timedelta(
                    days=i % 3),
                   traits=[Trait("n", models.INT_TYPE, i),
                           Trait("s", models.TEXT_TYPE, f"v{i}")],
                   raw={"i": i})
                for i in range(30)]
        bad_trait = ev("bad-trait", traits=[
            Trait("s", models.TEXT_TYPE, "written first"),
            Trait("n", models.INT_TYPE, "not a number")])
        bad_raw = ev("bad-raw", traits=[Trait("s", models.TEXT_TYPE, "x")],
                     raw={"not json": {1, 2}})
        nan_raw = ev("nan-raw", raw={"f": float("nan")})
        rejected = self.conn.record_events(
            good[:10] + [bad_trait] + good[10:20] + [bad_raw, nan_raw]
            + good[20:])
        self.assertEqual(
            {"bad-trait": "incompatible_trait", "bad-raw": "invalid",
             "nan-raw": "invalid"},
            {r.message_id: r.problem.value for r in rejected})
        self.assertEqual(sorted(e.message_id for e in good),
                         sorted(self.ids()))
        traits = self.conn.get_traits("compute.instance.create.end", "s")
        self.assertEqual(sorted(f"v{i}" for i in range(30)),
                         sorted(t.value for t in traits))
        (one,) = list(self.conn.get_events(
            storage.EventFilter(message_id="good-07")))
        self.assertEqual({"i": 7}, one.raw)
        self.assertEqual([("n", 7), ("s", "v7")],
                         [(t.name, t.value) for t in one.traits])

    def test_invalid_event_is_refused_as_invalid_even_when_known(self):
        self.record_ok([ev("a"), ev("b")])
        rejected = self.conn.record_events([
            ev("a", traits=[Trait("n", models.INT_TYPE, "x")]),
            ev("b"),
            ev("c"),
        ])
        self.assertEqual(
            [("a", "incompatible_trait"), ("b", "duplicate")],
            sorted((r.message_id, r.problem.value) for r in rejected))
        self.assertEqual(["a", "b", "c"], sorted(self.ids()))

    def test_same_name_different_types_is_allowed(self):
        self.record_ok([ev("a", traits=[Trait("v", 1, "1"),
                                        Trait("v", 2, 1)])])
        (got,) = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual([("v", 1, "1"), ("v", 2, 1)],
                         [(t.name, t.dtype, t.value) for t in got.traits])

    # Filters: every operator on every type, checked against a reference

    def load_panko(self):
        self.events = dataset.panko_events()
        self.record_ok(self.events)

    def check(self, event_filter, pagination=None):
        want = dataset.expected(self.events, event_filter, pagination)
        got = self.ids(event_filter, pagination)
        self.assertEqual(want, got, event_filter)
        return got

    def test_one_event_by_message_id_under_every_restriction(self):
        # The API's show: one message_id, with an admin's project
        # restriction or a non-admin's own project_id and user_id.
        self.load_panko()
        long_project = "p" * (tables.ID_COLUMN_LENGTH + 1)
        extra = [
            ev("long-project", traits=[
                Trait("project_id", models.TEXT_TYPE, long_project),
                Trait("user_id", models.TEXT_TYPE, "u")]),
            ev("null-project", traits=[
                Trait("project_id", models.TEXT_TYPE, None)]),
            ev("int-project", traits=[
                Trait("project_id", models.INT_TYPE, 7)]),
        ]
        self.record_ok(extra)
        self.events = self.events + extra
        found = 0
        for event in self.events[:40] + extra:
            values = {t.name: t.value for t in event.traits}
            project = values.get("project_id")
            own = project if isinstance(project, str) else "nobody"
            mine = [{"key": "project_id", "string": own},
                    {"key": "user_id", "string": values.get("user_id") or ""}]
            for restriction in (
                    {},
                    {"admin_proj": own},
                    {"admin_proj": "another-project"},
                    {"admin_proj": long_project},
                    {"traits_filter": mine},
                    {"traits_filter": mine[:1]},
                    {"traits_filter": [{"key": "project_id",
                                        "string": "another-project"}]},
                    {"traits_filter": mine, "admin_proj": own}):
                with self.subTest(event=event.message_id, **restriction):
                    found += len(self.check(storage.EventFilter(
                        message_id=event.message_id, **restriction)))
        self.assertGreater(found, len(self.events[:40]) + len(extra))

    def test_pages_of_one_user(self):
        # Every page a non-admin asks for names their project_id and
        # user_id; SQL backends answer the user_id half from the event's
        # own row, which must agree with the trait wherever they differ.
        self.load_panko()
        long_user = "u" * (tables.ID_COLUMN_LENGTH + 1)
        extra = [
            ev("long-user", traits=[
                Trait("project_id", models.TEXT_TYPE, "p-x"),
                Trait("user_id", models.TEXT_TYPE, long_user)]),
            ev("null-user", traits=[
                Trait("project_id", models.TEXT_TYPE, "p-x"),
                Trait("user_id", models.TEXT_TYPE, None)]),
            ev("int-user", traits=[
                Trait("project_id", models.TEXT_TYPE, "p-x"),
                Trait("user_id", models.INT_TYPE, 7)]),
            ev("untyped-user", traits=[
                Trait("project_id", models.TEXT_TYPE, "p-y"),
                Trait("user_id", models.NONE_TYPE, "u-x")]),
        ] + [
            ev(f"u-x-{n}", generated=T0 + datetime.timedelta(seconds=n % 7),
               traits=[
                   Trait("project_id", models.TEXT_TYPE, f"p-{'xy'[n % 2]}"),
                   Trait("user_id", models.TEXT_TYPE,
                         "u-x " if n % 5 == 0 else "u-x")])
            for n in range(30)
        ]
        self.record_ok(extra)
        self.events = self.events + extra
        users = sorted({t.value for e in self.events for t in e.traits
                        if t.name == "user_id" and isinstance(t.value, str)})
        self.assertIn(long_user, users)
        self.assertGreater(len(users), 5)
        for user in users:
            projects = sorted({
                t.value for e in self.events for t in e.traits
                if t.name == "project_id" and isinstance(t.value, str)
                and any(u.name == "user_id" and u.value == user
                        for u in e.traits)})
            mine = {"key": "user_id", "string": user}
            for traits in ([mine], [{**mine, "op": "ne"}],
                           *([{"key": "project_id", "string": project},
                              mine] for project in projects + ["p-none"])):
                with self.subTest(user=user[:20], traits=traits[0]):
                    self.check(storage.EventFilter(traits_filter=traits))
        # A member's pages, walked with a marker, newest first.
        member = storage.EventFilter(traits_filter=[
            {"key": "project_id", "string": "p-x"},
            {"key": "user_id", "string": "u-x"}])
        seen, marker = [], None
        while True:
            page = self.check(member, storage.Pagination(
                limit=4, marker=marker,
                sort=[("generated", "desc"), ("message_id", "asc")]))
            if not page:
                break
            seen += page
            marker = page[-1]
        self.assertEqual(12, len(seen))

    def test_every_operator_on_every_type(self):
        self.load_panko()
        values = {
            "string": ("flavor", "m1.medium"),
            "integer": ("memory_mb", 4096),
            "float": ("temperature", 0.1),
            "datetime": ("launched_at",
                         datetime.datetime(2020, 12, 22, 13, 21, 7, 620737)),
        }
        for type_name, (key, value) in values.items():
            for op in storage.OPERATORS:
                with self.subTest(type=type_name, op=op):
                    got = self.check(storage.EventFilter(traits_filter=[
                        {"key": key, "op": op, type_name: value}]))
                    self.assertTrue(got or op in ("lt",), (type_name, op))

    def test_text_filters_are_exact(self):
        self.load_panko()
        for value in ("Café crème", "café crème", "Cafe creme",
                      "東京サーバー", "build 🚀", "m1.medium ", "M1.MEDIUM"):
            for key in ("display_name", "flavor"):
                self.check(storage.EventFilter(traits_filter=[
                    {"key": key, "string": value}]))
        got = self.ids(storage.EventFilter(traits_filter=[
            {"key": "display_name", "string": "Café crème"}]))
        self.assertTrue(got)

    def test_big_numbers(self):
        self.load_panko()
        for value in (2**53 + 1, 2**53, -(2**53 + 1), 2**31):
            got = self.check(storage.EventFilter(traits_filter=[
                {"key": "size", "integer": value}])) or self.check(
                storage.EventFilter(traits_filter=[
                    {"key": "counter", "integer": value}]))
            self.assertTrue(got, value)
        self.assertTrue(self.check(storage.EventFilter(traits_filter=[
            {"key": "temperature", "float": 1e-300}])))

    def test_dtype_zero_filters_as_string(self):
        self.load_panko()
        self.assertTrue(self.check(storage.EventFilter(traits_filter=[
            {"key": "note", "string": "untyped"}])))

    def test_two_filters_on_one_trait(self):
        self.load_panko()
        self.assertTrue(self.check(storage.EventFilter(traits_filter=[
            {"key": "memory_mb", "op": "ge", "integer": 2048},
            {"key": "memory_mb", "op": "lt", "integer": 8192},
        ])))

    def test_event_fields(self):
        self.load_panko()
        self.assertEqual(28, len(self.check(
            storage.EventFilter(event_type="volume.create.end"))))
        mid = self.events[7].message_id
        self.assertEqual([mid], self.check(
            storage.EventFilter(message_id=mid)))
        self.assertEqual([], self.check(
            storage.EventFilter(event_type="no.such.type")))
        window = storage.EventFilter(
            start_timestamp=datetime.datetime(2020, 3, 30, 23, 1, 15),
            end_timestamp=datetime.datetime(2020, 3, 30, 23, 1, 15),
        )
        self.assertEqual(4, len(self.check(window)))
        self.check(storage.EventFilter(
            start_timestamp=datetime.datetime(2020, 8, 11, 1, 35, 23, 28317),
            end_timestamp=datetime.datetime(2021, 2, 9, 17, 4, 24, 81477),
            event_type="image.upload",
            traits_filter=[{"key": "size", "op": "gt", "integer": 0}],
        ))

    def test_admin_proj(self):
        self.load_panko()
        project = "6abff5d3570ca64200ae865757764b02"
        got = self.check(storage.EventFilter(admin_proj=project))
        # Events with no project_id trait at all are visible too, even
        # those with no text trait (Panko hid them).
        no_traits = [e.message_id for e in self.events if not e.traits]
        self.assertTrue(no_traits)
        self.assertTrue(set(no_traits) <= set(got))
        self.check(storage.EventFilter(admin_proj="unknown-project"))

    # Pagination

    def test_limit_and_default_order(self):
        self.load_panko()
        self.check(storage.EventFilter(), storage.Pagination(limit=5))
        self.check(storage.EventFilter())

    def test_sorts(self):
        self.load_panko()
        for sort in ([("message_id", "asc")], [("message_id", "desc")],
                     [("generated", "desc"), ("message_id", "desc")],
                     [("generated", "desc")], [("generated", "asc")]):
            with self.subTest(sort=sort):
                self.check(storage.EventFilter(),
                           storage.Pagination(limit=25, sort=sort))

    def test_walk_with_marker_both_directions(self):
        self.load_panko()
        for sort in ([("generated", "asc")],
                     [("generated", "desc"), ("message_id", "desc")],
                     [("message_id", "desc")]):
            seen, marker = [], None
            while True:
                page = self.check(storage.EventFilter(), storage.Pagination(
                    limit=80 if sort[0][1] == "asc" else 33,
                    marker=marker, sort=sort))
                if not page:
                    break
                seen.extend(page)
                marker = page[-1]
            self.assertEqual(len(self.events), len(seen))
            self.assertEqual(len(seen), len(set(seen)))

    def test_marker_among_tied_timestamps(self):
        self.load_panko()
        window = storage.EventFilter(
            start_timestamp=datetime.datetime(2021, 10, 6, 19, 7),
            end_timestamp=datetime.datetime(2021, 10, 6, 19, 7),
        )
        first, *rest = self.check(window)
        self.assertEqual(2, len(rest))
        self.assertEqual(rest, self.check(window, storage.Pagination(
            marker=first, sort=[("generated", "asc")])))

    def test_unknown_marker(self):
        self.load_panko()
        with self.assertRaises(storage.InvalidMarker):
            list(self.conn.get_events(storage.EventFilter(),
                                      storage.Pagination(marker="nope")))
        outside = self.events[0].message_id
        other_type = next(e.event_type for e in self.events
                          if e.event_type != self.events[0].event_type)
        with self.assertRaises(storage.InvalidMarker):
            list(self.conn.get_events(
                storage.EventFilter(event_type=other_type),
                storage.Pagination(marker=outside)))

    def test_streams_past_one_chunk(self):
        events = [ev(f"e{i:05d}", generated=T0 + datetime.timedelta(
            seconds=i % 7), traits=[Trait("i", 2, i)]) for i in range(2500)]
        self.record_ok(events)
        got = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(2500, len(got))
        self.assertEqual(2500, len({e.message_id for e in got}))
        self.assertEqual(sorted(got, key=lambda e: (e.generated,
                                                    e.message_id)), got)
        self.assertEqual(
            1200, len(self.ids(storage.EventFilter(),
                               storage.Pagination(limit=1200))))

    def test_trait_filtered_answer_past_one_chunk(self):
        # Longer than a chunk, matched through the (key, value) index.
        want = store_hosts(self)
        got = list(self.conn.get_events(ON_H1))
        self.assertEqual(want, [e.message_id for e in got])
        for event in got:
            self.assertEqual(
                [("host", "h-1"), ("i", int(event.message_id[1:]))],
                [(t.name, t.value) for t in event.traits])
        self.assertEqual(want[:1150], self.ids(
            ON_H1, storage.Pagination(limit=1150)))
        self.assertEqual(want[::-1][:1200], self.ids(ON_H1, storage.Pagination(
            limit=1200, sort=[("generated", "desc"),
                              ("message_id", "desc")])))
        self.assertEqual(want[101:], self.ids(
            ON_H1, storage.Pagination(marker=want[100])))

    # Event types and traits

    def test_event_types(self):
        self.assertEqual([], self.conn.get_event_types())
        self.load_panko()
        want = sorted({e.event_type for e in self.events})
        self.assertEqual(want, self.conn.get_event_types())

    def test_trait_types(self):
        self.load_panko()
        got = self.conn.get_trait_types("sensor.reading")
        self.assertEqual(
            [("counter", 2), ("humidity", 3), ("note", 1),
             ("project_id", 1), ("sampled_at", 4), ("sensor", 1),
             ("temperature", 3), ("user_id", 1)],
            sorted({(t["name"], t["data_type"]) for t in got}),
        )
        self.assertEqual([], self.conn.get_trait_types("no.such.type"))

    def test_traits(self):
        self.load_panko()
        want = sorted(
            t.value for e in self.events if e.event_type == "image.upload"
             for t in e.traits if t.name == "size"
        )
        got = self.conn.get_traits("image.upload", "size")
        self.assertEqual(want, sorted(t.value for t in got))
        self.assertTrue(all(t.dtype == models.INT_TYPE for t in got))
        every = self.conn.get_traits("image.upload")
        self.assertEqual(
            sum(len(e.traits) for e in self.events
                if e.event_type == "image.upload"),
            len(every),
        )

    # Deletion and expiry

    @backends.requires("events:delete")
    def test_delete_events(self):
        self.load_panko()
        f = storage.EventFilter(event_type="heartbeat")
        self.assertEqual(16, self.conn.delete_events(f))
        self.assertEqual([], self.ids(f))
        self.assertNotIn("heartbeat", self.conn.get_event_types())
        self.assertEqual(184, len(self.ids()))
        self.assertEqual(0, self.conn.delete_events(f))

    @backends.requires("storage:expiry")
    def test_clear_expired_data_in_batches(self):
        # Expired and kept events within one UTC day: a driver that
        # expires whole days at once (PostgreSQL's partitions, see
        # sql/test_partitions) deletes row by row here too.
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        day = (now - datetime.timedelta(days=3)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        old = [ev(f"old{i}", event_type="old.type",
                  generated=day + datetime.timedelta(hours=1, seconds=i),
                  traits=[Trait("i", 2, i), Trait("s", 1, "x")])
               for i in range(25)]
        kept = [ev("kept", event_type="new.type",
                   generated=day + datetime.timedelta(hours=23))]
        ttl = (now - (day + datetime.timedelta(hours=12))).total_seconds()
        self.record_ok(old + kept)
        counts = []
        while deleted := self.conn.clear_expired_data(ttl, 10):
            counts.append(deleted)
        self.assertEqual([10, 10, 5], counts)
        self.assertEqual(["kept"], self.ids())
        self.assertEqual(["new.type"], self.conn.get_event_types())
        self.assertEqual([], self.conn.get_traits("old.type"))
        # Their message_ids are free again.
        self.record_ok(old[:1])

    @backends.requires("storage:expiry")
    def test_clear_expired_data_keeps_recent(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        self.record_ok([ev("recent", generated=now)])
        self.assertEqual(0, self.conn.clear_expired_data(3600, 100))
        self.assertEqual(["recent"], self.ids())


globals().update(backends.make_test_cases(StorageScenarios))

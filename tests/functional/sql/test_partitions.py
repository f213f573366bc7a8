"""PostgreSQL's day partitions (revision 0006)."""

import datetime
import threading

import sqlalchemy as sa
from alembic import command

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import migrations, partitions
from tests.functional import backends

Trait = models.Trait
#: A day two or three weeks ago whose number from 1970-01-01 is a
#: multiple of 7: the days of these tests are inside the window of days
#: that get partitions of their own (see partitions.window).
_TODAY = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
DAY0 = datetime.datetime(1970, 1, 1) + datetime.timedelta(
    days=((_TODAY - datetime.datetime(1970, 1, 1)).days - 14) // 7 * 7)


def at(days, seconds=0):
    return DAY0 + datetime.timedelta(days=days, seconds=seconds)


def ev(message_id, generated, event_type="compute.instance.update"):
    return models.Event(
        message_id, event_type, generated,
        [Trait("project_id", models.TEXT_TYPE, "p1"),
         Trait("memory_mb", models.INT_TYPE, 2048)],
        {"id": message_id},
    )


class DayPartitioned:
    """One partition per day, and how to read them."""

    conf_overrides = {("database", "partition_days"): 1}

    def partitions(self, table="event"):
        with self.conn.engine.connect() as conn:
            days = partitions.partition_days(conn, table)
            return [(first, end) for first, end, _ in days]

    def day(self, days):
        return partitions.event_day(DAY0) + days


class PartitionScenarios(DayPartitioned):

    def record_ok(self, conn, events):
        self.assertEqual([], conn.record_events(events))

    def test_each_day_has_its_partitions_and_ids_name_it(self):
        self.record_ok(self.conn, [ev("a", at(0, 10)), ev("b", at(2, 86399)),
                                   ev("c", at(0, 20))])
        want = [(self.day(0), self.day(1)), (self.day(2), self.day(3))]
        for table, _ in partitions.PARTITIONED:
            self.assertEqual(want, self.partitions(table))
        with self.conn.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT e.id, e.generated, m.event_id FROM event e "
                "JOIN event_message m USING (message_id) ORDER BY e.id"
            )).all()
            trait_ids = set(conn.scalars(sa.text(
                "SELECT event_id FROM trait_int")))
        self.assertEqual(3, len(rows))
        for event_id, generated, routed in rows:
            self.assertEqual(partitions.event_day(generated),
                             event_id >> partitions.DAY_SHIFT)
            self.assertEqual(event_id, routed)
        self.assertEqual({row[0] for row in rows}, trait_ids)
        self.assertEqual(
            ["a", "c", "b"],
            [e.message_id for e in self.conn.get_events(
                storage.EventFilter())])

    def test_the_same_message_id_on_another_day_is_a_duplicate(self):
        self.record_ok(self.conn, [ev("a", at(0))])
        rejected = self.conn.record_events([ev("a", at(5)), ev("b", at(5))])
        self.assertEqual([("a", models.Problem.DUPLICATE)],
                         [(r.message_id, r.problem) for r in rejected])
        self.assertEqual(["a", "b"], [
            e.message_id for e in self.conn.get_events(storage.EventFilter())
        ])
        self.assertEqual(at(0), next(self.conn.get_events(
            storage.EventFilter(message_id="a"))).generated)

    def test_time_ranges_and_lookups_across_days(self):
        events = [ev(f"m{n}", at(n, 3600 * n)) for n in range(6)]
        self.record_ok(self.conn, events)
        f = storage.EventFilter(start_timestamp=at(1, 3600),
                                end_timestamp=at(4, 3600 * 4))
        self.assertEqual(["m1", "m2", "m3", "m4"], [
            e.message_id for e in self.conn.get_events(f)])
        f = storage.EventFilter(start_timestamp=at(1, 3601),
                                end_timestamp=at(4, 3600 * 4 - 1))
        self.assertEqual(["m2", "m3"], [
            e.message_id for e in self.conn.get_events(f)])
        for event in events:
            got = list(self.conn.get_events(
                storage.EventFilter(message_id=event.message_id)))
            self.assertEqual([event.message_id],
                             [e.message_id for e in got])
        page = self.conn.get_events(
            storage.EventFilter(), storage.Pagination(limit=2, marker="m2"))
        self.assertEqual(["m3", "m4"], [e.message_id for e in page])

    def test_trait_types_found_in_older_days_only(self):
        older = models.Event("old", "compute.instance.update", at(0),
                             [Trait("rare", models.FLOAT_TYPE, 1.5),
                              Trait("gone", models.TEXT_TYPE, "x")], None)
        self.record_ok(self.conn, [older, ev("new", at(9))])
        with self.conn.engine.begin() as conn:
            # A summary row outliving its traits (their events deleted).
            conn.execute(sa.text("DELETE FROM trait_text WHERE key = 'gone'"))
        self.assertEqual(
            [{"name": "memory_mb", "data_type": models.INT_TYPE},
             {"name": "project_id", "data_type": models.TEXT_TYPE},
             {"name": "rare", "data_type": models.FLOAT_TYPE}],
            self.conn.get_trait_types("compute.instance.update"))
        self.assertEqual([], self.conn.get_trait_types("no.such.type"))

    def test_expired_days_are_dropped_whole(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        old = [ev(f"old-{days}-{n}", now - datetime.timedelta(days=days),
                  event_type="old.type")
               for days in (10, 9, 8) for n in range(3)]
        self.record_ok(self.conn, old + [ev("new", now)])
        counts = []
        while deleted := self.conn.clear_expired_data(5 * 86400, 2):
            counts.append(deleted)
        # Three days, all dropped whole in one call whatever the batch
        # size.
        self.assertEqual([9], counts)
        today = partitions.event_day(now)
        for table, _ in partitions.PARTITIONED:
            self.assertEqual([(today, today + 1)], self.partitions(table))
        with self.conn.engine.connect() as conn:
            self.assertEqual(["new"], conn.scalars(sa.text(
                "SELECT message_id FROM event_message")).all())
        self.assertEqual(["new"], [e.message_id for e in self.conn.get_events(
            storage.EventFilter())])
        self.assertNotIn("old.type", self.conn.get_event_types())
        # The message_ids are free, and the day's partitions come back.
        self.record_ok(self.conn, old[:1])
        self.assertEqual(2, len(self.partitions()))

    def message_ids(self):
        with self.conn.engine.connect() as conn:
            return conn.scalars(sa.text(
                "SELECT message_id FROM event_message ORDER BY 1")).all()

    def test_a_day_with_an_event_the_cutoff_keeps_is_not_dropped(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
        self.record_ok(self.conn, [
            ev("old", noon - datetime.timedelta(days=12)),
            ev("timeless", noon - datetime.timedelta(days=12, seconds=1)),
            ev("older", noon - datetime.timedelta(days=9)),
            ev("oldest", noon - datetime.timedelta(days=10)),
        ])
        with self.conn.engine.begin() as conn:
            conn.execute(sa.text(
                "UPDATE event SET generated = NULL "
                "WHERE message_id = 'timeless'"))
        # The two later days go whole; the message_ids of the day kept
        # stay, though freeing them reads every id below the later days.
        self.assertEqual(2, self.conn.clear_expired_data(5 * 86400, 10))
        self.assertEqual(["old", "timeless"], self.message_ids())
        self.assertEqual(1, self.conn.clear_expired_data(5 * 86400, 10))
        self.assertEqual(0, self.conn.clear_expired_data(5 * 86400, 10))
        self.assertEqual(1, len(self.partitions()))
        self.assertEqual(["timeless"], self.message_ids())
        self.assertEqual(["timeless"], [
            e.message_id for e in self.conn.get_events(
                storage.EventFilter())])
        rejected = self.conn.record_events([ev("timeless", now)])
        self.assertEqual([models.Problem.DUPLICATE],
                         [r.problem for r in rejected])

    def test_message_ids_an_interrupted_expiry_left_are_freed(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        self.record_ok(self.conn, [
            ev("a", now - datetime.timedelta(days=10)),
            ev("b", now - datetime.timedelta(days=8)),
            ev("new", now),
        ])
        # A run that dropped a day's partitions and stopped there.
        day = partitions.event_day(now - datetime.timedelta(days=10))
        with self.conn.engine.begin() as conn:
            for table, _ in partitions.PARTITIONED:
                conn.exec_driver_sql(
                    f"DROP TABLE {partitions.partition_name(table, day)}")
        self.assertEqual(["a", "b", "new"], self.message_ids())
        # The next run frees them with its own day's.
        self.assertEqual(2, self.conn.clear_expired_data(5 * 86400, 10))
        self.assertEqual(["new"], self.message_ids())
        self.record_ok(self.conn, [ev("a", now)])

    def test_two_expirers_at_once_count_each_event_once(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        old = [ev(f"old-{days}-{n}", now - datetime.timedelta(days=days))
               for days in range(8, 20) for n in range(2)]
        self.record_ok(self.conn, old + [ev("new", now)])
        expirers = [storage.get_connection(self.url, self.conf)
                    for _ in range(2)]
        for expirer in expirers:
            self.addCleanup(expirer.close)
        start = threading.Barrier(2)
        counts, errors = [], []

        def expire(conn):
            start.wait()
            try:
                while deleted := conn.clear_expired_data(5 * 86400, 5):
                    counts.append(deleted)
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=expire, args=(expirer,))
                   for expirer in expirers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        self.assertEqual(len(old), sum(counts))
        self.assertEqual(["new"], self.message_ids())
        self.assertEqual(1, len(self.partitions()))

    def test_a_writer_recreates_a_day_the_expirer_dropped(self):
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        then = now - datetime.timedelta(days=9)
        self.record_ok(self.conn, [ev("first", then)])
        expirer = storage.get_connection(self.url, self.conf)
        self.addCleanup(expirer.close)
        self.assertEqual(1, expirer.clear_expired_data(5 * 86400, 10))
        self.assertEqual([], self.partitions())
        # This writer still believes the day has its partitions.
        self.record_ok(self.conn, [ev("late", then)])
        self.assertEqual(["late"], [
            e.message_id for e in self.conn.get_events(
                storage.EventFilter())])

    def test_partition_days_groups_days_and_fits_between_others(self):
        with self.conn.engine.begin() as conn:
            partitions.create_partitions(conn, self.day(6), self.day(7))
        conf = backends.make_conf(
            self.url, {("database", "partition_days"): 7})
        weekly = storage.get_connection(self.url, conf)
        self.addCleanup(weekly.close)
        self.record_ok(weekly, [ev(f"d{n}", at(n)) for n in (4, 5, 6, 7, 15)])
        self.assertEqual(
            [(self.day(0), self.day(6)), (self.day(6), self.day(7)),
             (self.day(7), self.day(14)), (self.day(14), self.day(21))],
            self.partitions(),
        )
        self.assertEqual(5, len(list(weekly.get_events(
            storage.EventFilter()))))

    def test_unset_width_follows_the_time_to_live(self):
        for ttl, days in ((-1, 30), (365 * 86400, 7), (30 * 86400, 1)):
            with self.subTest(ttl=ttl):
                conf = backends.make_conf(self.url, {
                    ("database", "event_time_to_live"): ttl})
                conn = storage.get_connection(self.url, conf)
                self.addCleanup(conn.close)
                conn.clear()
                conn.upgrade()
                # Aligned on multiples of the width from 1970-01-01.
                first = partitions.event_day(at(3)) // days * days
                self.record_ok(conn, [ev(f"w{days}", at(3))])
                self.assertEqual([(first, first + days)], self.partitions())

    def test_concurrent_writers_share_new_days(self):
        errors = []

        def write(worker):
            conn = storage.get_connection(self.url, self.conf)
            try:
                for batch in range(3):
                    events = [ev(f"w{worker}-{batch}-{n}", at(n % 4, worker))
                              for n in range(40)]
                    rejected = conn.record_events(events)
                    if rejected:
                        errors.append(rejected)
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                conn.close()

        threads = [threading.Thread(target=write, args=(worker,))
                   for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], errors)
        self.assertEqual(
            [(self.day(n), self.day(n + 1)) for n in range(4)],
            self.partitions())
        self.assertEqual(480, len(list(self.conn.get_events(
            storage.EventFilter()))))


class CatchAllScenarios:
    """Client-chosen times outside the window of days that get
    partitions of their own go to the catch-all partition (revision
    0008): their number cannot multiply the tables."""

    conf_overrides = {("database", "event_time_to_live"): 30 * 86400}

    def partition_names(self):
        with self.conn.engine.connect() as conn:
            return sorted(conn.scalars(sa.text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'event'::regclass")))

    def test_wild_dates_make_no_partitions_and_expire(self):
        before = self.partition_names()
        self.assertEqual(["event_default"], before)
        start = datetime.datetime(1600, 1, 1)
        wild = [ev(f"w{n}", start + datetime.timedelta(days=31 * n))
                for n in range(1000)]
        edges = [ev("first", datetime.datetime(1, 1, 1)),
                 ev("last", datetime.datetime(9999, 12, 31, 23, 59, 59,
                                              999999))]
        self.assertEqual([], self.conn.record_events(wild + edges))
        self.assertEqual(before, self.partition_names())
        types = [{"name": "memory_mb", "data_type": models.INT_TYPE},
                 {"name": "project_id", "data_type": models.TEXT_TYPE}]
        self.assertEqual(
            types, self.conn.get_trait_types("compute.instance.update"))
        for message_id, generated in (("first", edges[0].generated),
                                      ("last", edges[1].generated),
                                      ("w500", wild[500].generated)):
            (got,) = self.conn.get_events(
                storage.EventFilter(message_id=message_id))
            self.assertEqual(generated, got.generated)
        (got,) = self.conn.get_events(storage.EventFilter(
            start_timestamp=datetime.datetime(1, 1, 1),
            end_timestamp=datetime.datetime(1, 1, 2)))
        self.assertEqual("first", got.message_id)
        # A day of the window gets its partition as before.
        self.assertEqual([], self.conn.record_events(
            [ev("today", _TODAY)]))
        self.assertEqual(2, len(self.partition_names()))
        # A trait type that today's partition lacks is found in the
        # catch-all.
        self.assertEqual([], self.conn.record_events([
            models.Event("old-x", "x.y", start, [
                Trait("a", models.TEXT_TYPE, "1"),
                Trait("b", models.INT_TYPE, 2)], None),
            models.Event("new-x", "x.y", _TODAY, [
                Trait("a", models.TEXT_TYPE, "1")], None)]))
        self.assertEqual(
            [{"name": "a", "data_type": models.TEXT_TYPE},
             {"name": "b", "data_type": models.INT_TYPE}],
            self.conn.get_trait_types("x.y"))
        # Expired row by row from the catch-all: everything but the
        # future ones and today's.
        deleted = 0
        while count := self.conn.clear_expired_data(30 * 86400, 400):
            deleted += count
        left = {e.message_id for e in self.conn.get_events(
            storage.EventFilter())}
        future = {e.message_id for e in wild
                  if e.generated > _TODAY}
        self.assertEqual(future | {"last", "today", "new-x"}, left)
        self.assertEqual(1002 - len(future), deleted)


class UpgradeScenarios(DayPartitioned):
    auto_upgrade = False

    def test_upgrade_moves_stored_events_into_their_days(self):
        self.store_old_events([(7, "seven", at(3, 5), "{}"),
                               (9, "nine", at(-400), '{"x": 1}')])
        with self.conn.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO trait_text (event_id, key, value) VALUES "
                "(7, 'project_id', 'p7'), (9, 'project_id', 'p9')"))
        self.conn.upgrade()
        # 404 days of stored events: partitions of 7 days (at most about
        # 60 of them), aligned on multiples of 7 days from 1970-01-01.
        self.assertEqual([(self.day(-406), self.day(-399)),
                          (self.day(0), self.day(7))], self.partitions())
        got = list(self.conn.get_events(storage.EventFilter()))
        self.assertEqual(["nine", "seven"], [e.message_id for e in got])
        self.assertEqual([[("project_id", 1, "p9")], [("project_id", 1,
                                                      "p7")]],
                         [[(t.name, t.dtype, t.value) for t in e.traits]
                          for e in got])
        self.assertEqual({"x": 1}, got[0].raw)
        # New events are numbered after the old ones, and duplicates of
        # the old ones are refused.
        rejected = self.conn.record_events([ev("seven", at(3)),
                                            ev("ten", at(3))])
        self.assertEqual(["seven"], [r.message_id for r in rejected])
        with self.conn.engine.connect() as conn:
            ids = dict(conn.execute(sa.text(
                "SELECT message_id, id FROM event")).all())
        self.assertEqual((self.day(3) << 40) + 7, ids["seven"])
        self.assertEqual((self.day(-400) << 40) + 9, ids["nine"])
        self.assertEqual(self.day(3), ids["ten"] >> 40)
        self.assertGreater(ids["ten"] & ((1 << 40) - 1), 9)
        # Days the stored ones' partitions leave out get the writers'
        # own (one day each by default).
        self.assertEqual([], self.conn.record_events([ev("eleven", at(8))]))
        self.assertEqual([(self.day(-406), self.day(-399)),
                          (self.day(0), self.day(7)),
                          (self.day(8), self.day(9))], self.partitions())

    def test_upgrade_of_a_few_days_keeps_one_partition_a_day(self):
        self.store_old_events([(7, "m7", at(3, 5), "{}"),
                               (9, "m9", at(5), "{}"),
                               (11, "m11", None, "{}")])
        self.conn.upgrade()
        # The event without a time counts as of 1970-01-01.
        self.assertEqual([(0, 1), (self.day(3), self.day(4)),
                          (self.day(5), self.day(6))], self.partitions())
        self.assertEqual(3, len(list(self.conn.get_events(
            storage.EventFilter()))))

    def store_old_events(self, rows):
        """Events of type a.b at revision 0005: (id, message_id,
        generated, raw) each."""
        with self.conn.engine.begin() as conn:
            cfg = migrations.alembic_config(conn)
            command.upgrade(cfg, "0005_event_user_column")
        with self.conn.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO event_type (id, \"desc\") VALUES (1, 'a.b')"))
            conn.execute(sa.text(
                "INSERT INTO event (id, message_id, generated, raw, "
                "event_type_id) VALUES (:id, :m, :g, :raw, 1)"),
                [{"id": i, "m": m, "g": g, "raw": raw}
                 for i, m, g, raw in rows])
            conn.execute(sa.text("SELECT setval('event_id_seq', :n)"),
                         {"n": max(row[0] for row in rows)})


# Only on PostgreSQL does the SQL driver partition its tables by day.
globals().update(backends.make_test_cases(
    PartitionScenarios, names=("postgresql",)))
globals().update(backends.make_test_cases(
    UpgradeScenarios, names=("postgresql",)))
globals().update(backends.make_test_cases(
    CatchAllScenarios, names=("postgresql",)))

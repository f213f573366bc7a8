"""dbsync adopts the databases Panko wrote, in place: every event, every
answer, and new events after.

MongoDB's adoption of Panko's documents: mongodb/test_mongodb.
"""

import datetime
import os
import shutil
import tempfile

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema as tables
from tests.functional import backends, dataset
from tests.functional.scripts import run


@backends.requires("events:query:simple")
class AdoptionScenarios:
    auto_upgrade = False

    def load_panko_copy(self):
        """The database Panko wrote, in place of the test's empty one."""
        self.conn.close()
        backends.BACKENDS[self.backend_name].load_panko_copy(self.url)
        self.conn = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.conn.close)

    def write_config(self):
        directory = tempfile.mkdtemp(prefix="panko_like_adopt_")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "panko_like.conf")
        with open(path, "w") as f:
            f.write(f"[database]\nconnection = {self.url}\n")
        return path

    def assert_dbsync_adopts(self):
        """dbsync adopts the database once, then has nothing to do."""
        self.assertEqual("panko", self.conn.schema_state())
        conf = self.write_config()
        result = run("panko-like-dbsync", "--config-file", conf)
        self.assertIn("adopted a Panko database", result.stdout)
        self.assertIn("nothing to do",
                      run("panko-like-dbsync", "--config-file", conf).stdout)

    def test_dbsync_adopts_a_panko_database(self):
        self.load_panko_copy()
        before = models.utc_now() - datetime.timedelta(seconds=1)
        self.assert_dbsync_adopts()
        after = models.utc_now() + datetime.timedelta(seconds=1)

        # Revision 0009 gave every adopted event the upgrade's time as
        # its stored time (the documented rule), one value for all.
        stored = {e.stored_at for e in self.conn.get_events(
            storage.EventFilter())}
        self.assertEqual(1, len(stored), stored)
        self.assertTrue(before <= stored.pop() <= after)

        # Revision 0004 copied every event's traits into its row; the
        # answers below are read from there.
        with self.conn.engine.connect() as conn:
            self.assertEqual(
                [0, len(dataset.panko_events())],
                [conn.scalar(sa.select(sa.func.count()).where(
                    tables.event.c.traits.is_(None))),
                 conn.scalar(sa.select(sa.func.count()).select_from(
                     tables.event))],
            )

        events = dataset.panko_events()
        got = {e.message_id: dataset.normalized(e)
               for e in self.conn.get_events(storage.EventFilter())}
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in events}, got)

        # Answers are exact after adoption (Panko's MySQL tables compared
        # text case- and accent-insensitively).
        for value in ("Café crème", "café crème", "m1.medium ",
                      "M1.MEDIUM", "m1.medium"):
            for key in ("display_name", "flavor"):
                f = storage.EventFilter(
                    traits_filter=[{"key": key, "string": value}])
                self.assertEqual(
                    dataset.expected(events, f),
                    [e.message_id for e in self.conn.get_events(f)],
                    (key, value),
                )

        # Revision 0003 filled event.project_id and the trait summary
        # from Panko's rows: tenant filters and trait types still agree.
        projects = sorted({t.value for e in events for t in e.traits
                           if t.name == "project_id" and t.value})
        self.assertTrue(projects)
        for project in projects[:3] + ["no-such-project"]:
            for f in (storage.EventFilter(admin_proj=project),
                      storage.EventFilter(traits_filter=[
                          {"key": "project_id", "string": project}])):
                self.assertEqual(
                    dataset.expected(events, f),
                    [e.message_id for e in self.conn.get_events(f)],
                    project,
                )
        # Revision 0005 filled event.user_id: a member's pages agree.
        members = sorted({
            (values.get("project_id"), values["user_id"])
            for values in ({t.name: t.value for t in e.traits}
                           for e in events)
            if isinstance(values.get("project_id"), str)
            and isinstance(values.get("user_id"), str)})
        self.assertTrue(members)
        with self.conn.engine.connect() as conn:
            self.assertTrue(conn.scalar(sa.select(sa.func.count()).where(
                tables.event.c.user_id == members[0][1])))
        for project, user in members[:3] + [(projects[0], "nobody")]:
            f = storage.EventFilter(traits_filter=[
                {"key": "project_id", "string": project},
                {"key": "user_id", "string": user}])
            self.assertEqual(
                dataset.expected(events, f),
                [e.message_id for e in self.conn.get_events(f)],
                (project, user),
            )
        for event_type in sorted({e.event_type for e in events}):
            want = sorted({(t.name, 1 if t.dtype == 0 else t.dtype)
                           for e in events if e.event_type == event_type
                           for t in e.traits})
            got = sorted((t["name"], t["data_type"])
                         for t in self.conn.get_trait_types(event_type))
            self.assertEqual(want, got, event_type)

        # And the adopted database takes new events, long text included.
        new = models.Event(
            "after-adoption", "image.upload",
            datetime.datetime(2026, 1, 1, 0, 0, 0, 1),
            [models.Trait("name", 1, "🚀" * 300)], {"k": "v"})
        self.assertEqual([], self.conn.record_events([new]))
        (back,) = self.conn.get_events(
            storage.EventFilter(message_id="after-adoption"))
        self.assertEqual(dataset.normalized(new), dataset.normalized(back))
        self.assertIn("image.upload", self.conn.get_event_types())
        # ... stamped with the clock now, not the upgrade's time.
        self.assertLess(after - datetime.timedelta(seconds=1),
                        back.stored_at)

    def stamp(self, revision):
        """The table Panko's own alembic scripts leave, at ``revision``."""
        with self.conn.engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) "
                "NOT NULL, PRIMARY KEY (version_num))")
            conn.execute(sa.text(
                "INSERT INTO alembic_version VALUES (:revision)"),
                {"revision": revision})

    def test_dbsync_adopts_a_database_panko_migrated(self):
        # Operators who ran Panko's alembic migrations have its revision.
        self.load_panko_copy()
        self.stamp("c3955547bff2")
        self.assert_dbsync_adopts()
        events = dataset.panko_events()
        got = {e.message_id: dataset.normalized(e)
               for e in self.conn.get_events(storage.EventFilter())}
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in events}, got)

    def test_unknown_revision_is_one_line(self):
        # Neither Panko's nor panko_like's: a newer release wrote it.
        self.load_panko_copy()
        self.stamp("9999_from_the_future")
        self.assertEqual("alembic", self.conn.schema_state())
        result = run("panko-like-dbsync", "--config-file",
                     self.write_config(), check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertNotIn("Traceback", result.stderr)
        (line,) = result.stderr.strip().splitlines()
        self.assertIn("9999_from_the_future", line)
        self.assertIn("does not know", line)


# Every backend Panko's database was dumped from.
globals().update(backends.make_test_cases(
    AdoptionScenarios, names=backends.PANKO_COPIES))

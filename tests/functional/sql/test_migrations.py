"""dbsync adopts Panko's databases; models and migrations agree."""

import datetime
import os
import shutil
import subprocess

import sqlalchemy as sa
from alembic import autogenerate
from alembic.runtime import migration

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import tables
from tests.functional import backends, dataset
from tests.functional.scripts import run


class MigrationScenarios:
    def test_models_match_migrations(self):
        with self.conn.engine.connect() as conn:
            context = migration.MigrationContext.configure(
                conn,
                opts={
                    "include_object": tables.include_object(
                        conn.dialect.name
                    ),
                    "compare_type": True,
                },
            )
            diff = autogenerate.compare_metadata(context, tables.metadata)
        if self.backend_name == "sqlite":
            # SQLite ignores VARCHAR lengths, so 0002 leaves them alone.
            diff = [d for d in diff if not (
                isinstance(d, list) and d[0][0] == "modify_type"
                and isinstance(d[0][5], sa.String))]
        self.assertEqual([], diff)

    def test_indexes_exist(self):
        inspector = sa.inspect(self.conn.engine)
        names = {
            index["name"]
            for table in ("trait_text", "trait_int", "trait_float",
                          "trait_datetime", "event")
            for index in inspector.get_indexes(table)
        }
        for name in ("ix_trait_text_key_value", "ix_trait_int_key_value",
                     "ix_event_generated_message_id"):
            self.assertIn(name, names)
        if self.backend_name == "sqlite":
            self.assertEqual(["key", "value", "event_id"],
                             text_index_columns(self.conn.engine))


class SQLiteIndexScenarios:
    def test_text_trait_lookup_reads_the_index_alone(self):
        # Revision 0007: the event ids come from the index, not the rows.
        conditions, _ = self.conn._filter_conditions(storage.EventFilter(
            traits_filter=[{"key": "resource_id", "string": "r-1"}]))
        query = sa.select(tables.event.c.id).where(*conditions)
        with self.conn.engine.connect() as conn:
            plan = " | ".join(row[-1] for row in conn.execute(
                sa.text("EXPLAIN QUERY PLAN " + str(query.compile(
                    conn, compile_kwargs={"literal_binds": True})))))
        self.assertIn("COVERING INDEX ix_trait_text_key_value", plan)


def text_index_columns(engine):
    """The columns of trait_text's (key, value) index."""
    for index in sa.inspect(engine).get_indexes("trait_text"):
        if index["name"] == "ix_trait_text_key_value":
            return index["column_names"]
    return None


class AdoptionScenarios:
    auto_upgrade = False

    def load_panko_copy(self):
        self.conn.close()
        url = sa.engine.make_url(self.url)
        if self.backend_name == "sqlite":
            shutil.copy(dataset.panko_path("sqlite", "panko.sqlite"),
                        url.database)
        elif self.backend_name == "postgresql":
            subprocess.run(
                ["psql", "-q", "-h", url.host or "127.0.0.1",
                 "-p", str(url.port or 5432), "-U", url.username,
                 "-d", url.database, "-v", "ON_ERROR_STOP=1",
                 "-f", dataset.panko_path("postgresql", "panko.sql")],
                check=True, capture_output=True, timeout=120,
                env={**os.environ, "PGPASSWORD": url.password or ""},
            )
        else:
            client = shutil.which("mariadb") or shutil.which("mysql")
            with open(dataset.panko_path("mysql", "panko.sql"), "rb") as f:
                subprocess.run(
                    [client, "-h", url.host or "127.0.0.1",
                     "-P", str(url.port or 3306), "-u", url.username,
                     *([f"-p{url.password}"] if url.password else []),
                     url.database],
                    stdin=f, check=True, capture_output=True, timeout=120,
                )
        self.conn = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.conn.close)

    def write_config(self):
        path = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                            ".stestr", f"adopt-{self.id()}.conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"[database]\nconnection = {self.url}\n")
        self.addCleanup(os.remove, path)
        return path

    def test_dbsync_adopts_a_panko_database(self):
        self.load_panko_copy()
        self.assertEqual("panko", self.conn.schema_state())
        conf = self.write_config()
        result = run("panko-like-dbsync", "--config-file", conf)
        self.assertIn("adopted a Panko database", result.stdout)
        self.assertIn("nothing to do",
                      run("panko-like-dbsync", "--config-file", conf).stdout)

        if self.backend_name == "sqlite":
            # Revision 0007 rebuilt the index over the adopted rows.
            self.assertEqual(["key", "value", "event_id"],
                             text_index_columns(self.conn.engine))

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


globals().update(backends.make_test_cases(
    MigrationScenarios, names=backends.SQL_BACKENDS))
globals().update(backends.make_test_cases(
    AdoptionScenarios, names=backends.SQL_BACKENDS))
globals().update(backends.make_test_cases(
    SQLiteIndexScenarios, names=("sqlite",)))

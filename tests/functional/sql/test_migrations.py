"""The SQL driver's models and its alembic migrations agree."""


import sqlalchemy as sa
from alembic import autogenerate
from alembic.runtime import migration

from panko_like import storage
from panko_like.storage.sqlalchemy import migrations, queries
from panko_like.storage.sqlalchemy import schema as tables
from tests.functional import backends


class MigrationScenarios:
    def test_models_match_migrations(self):
        with self.conn.engine.connect() as conn:
            context = migration.MigrationContext.configure(
                conn,
                opts={
                    "include_object": migrations.include_object(
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
        event_filter = storage.EventFilter(
            traits_filter=[{"key": "resource_id", "string": "r-1"}])
        conditions, _ = queries.filter_conditions(
            self.conn.dialect, event_filter)
        query = sa.select(tables.event.c.id).where(*conditions)
        with self.conn.engine.connect() as conn:
            plan = " | ".join(row[-1] for row in conn.execute(
                sa.text("EXPLAIN QUERY PLAN " + str(query.compile(
                    conn, compile_kwargs={"literal_binds": True})))))
        self.assertIn("COVERING INDEX ix_trait_text_key_value", plan)


class SQLiteAdoptedIndexScenarios:
    auto_upgrade = False

    def test_index_rebuilt_over_a_panko_database(self):
        # Revision 0007 rebuilds the index of Panko's own rows too.
        self.conn.close()
        backends.BACKENDS[self.backend_name].load_panko_copy(self.url)
        self.conn = storage.get_connection(self.url, self.conf)
        self.addCleanup(self.conn.close)
        self.assertNotEqual(["key", "value", "event_id"],
                            text_index_columns(self.conn.engine))
        self.assertIn("adopted a Panko database", self.conn.upgrade())
        self.assertEqual(["key", "value", "event_id"],
                         text_index_columns(self.conn.engine))


def text_index_columns(engine):
    """The columns of trait_text's (key, value) index."""
    for index in sa.inspect(engine).get_indexes("trait_text"):
        if index["name"] == "ix_trait_text_key_value":
            return index["column_names"]
    return None


globals().update(backends.make_test_cases(
    MigrationScenarios, names=backends.SQL_BACKENDS))
# Revision 0007's covering index is SQLite's alone.
globals().update(backends.make_test_cases(
    SQLiteIndexScenarios, names=("sqlite",)))
globals().update(backends.make_test_cases(
    SQLiteAdoptedIndexScenarios, names=("sqlite",)))

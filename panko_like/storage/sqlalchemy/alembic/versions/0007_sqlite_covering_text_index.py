"""SQLite: trait_text's (key, value) index also holds the event's id.

Revision ID: 0007_sqlite_covering_text_index
Revises: 0006_postgresql_day_partitions
Create Date: 2026-12-02

A filter on a text trait (``resource_id`` equal to ..., say) lists the
matching events from trait_text's (key, value) index. On SQLite that
index led to each row's rowid, and the event's id was then read from
the table: one more page for each match, scattered over the file. With
``event_id`` in the index the list is read from the index alone: of
the two scattered pages read for each match, only the event's remains.

Other databases are not changed. PostgreSQL indexes ``left(value,
255)``, an expression, and does not answer from such an index alone;
MySQL indexes a prefix of the value, which cannot answer either, and
its secondary indexes already hold the primary key (event_id, key).
"""

from alembic import op

revision = "0007_sqlite_covering_text_index"
down_revision = "0006_postgresql_day_partitions"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_trait_text_key_value")
    op.execute(
        "CREATE INDEX ix_trait_text_key_value ON trait_text "
        '("key", value, event_id)'
    )

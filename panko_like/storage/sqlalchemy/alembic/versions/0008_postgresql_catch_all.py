"""PostgreSQL: a catch-all partition for events outside the day window.

Revision ID: 0008_postgresql_catch_all
Revises: 0007_sqlite_covering_text_index
Create Date: 2026-12-04

Day partitions are made only for the days of the retention window (see
partitions.DayPartitions): an event generated long before it, or far in
the future, goes to the DEFAULT partition of each partitioned table
instead of making partitions of its own, so that client-chosen times
cannot multiply the tables. The expirer deletes such events row by row.

Other databases are not changed.
"""

from alembic import op

revision = "0008_postgresql_catch_all"
down_revision = "0007_sqlite_covering_text_index"
branch_labels = None
depends_on = None

#: The partitioned tables, as revision 0006 made them.
_TABLES = ("event", "trait_text", "trait_int", "trait_float",
           "trait_datetime")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"CREATE TABLE IF NOT EXISTS {table}_default "
                   f"PARTITION OF {table} DEFAULT")

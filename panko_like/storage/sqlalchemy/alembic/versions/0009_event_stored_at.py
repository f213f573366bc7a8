"""When each event was stored, and when it was last updated.

Revision ID: 0009_event_stored_at
Revises: 0008_postgresql_catch_all
Create Date: 2026-12-05

``event.stored_at`` is set by the database's clock as a row is written
(on SQLite, which refuses a clock as the default of an added column,
by the writer), with a (stored_at, message_id) index for the
``stored_since``/``stored_before`` filters, counts and streams.

The events already stored get the time of this upgrade: the time they
were stored is not known (Panko kept none), and that is the earliest
time at which panko_like can vouch for them. The column is added with
that time as a constant, which PostgreSQL and MariaDB record without
rewriting the table; the clock becomes the default afterwards.

``event.updated_at`` is NULL until an event's traits are updated.
"""

import sqlalchemy as sa
from alembic import op

from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema

revision = "0009_event_stored_at"
down_revision = "0008_postgresql_catch_all"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    now = models.utc_now()
    column = sa.Column("stored_at", schema.PreciseTimestamp())
    # The constant as the column type keeps it (DECIMAL on MySQL).
    upgraded = column.type.process_bind_param(now, bind.dialect)
    literal = (str(upgraded) if bind.dialect.name == "mysql"
               else f"'{upgraded.isoformat(' ', 'microseconds')}'")
    column.server_default = sa.DefaultClause(sa.text(literal))
    op.add_column("event", column)
    if bind.dialect.name != "sqlite":
        op.alter_column("event", "stored_at",
                        server_default=schema.StoredNow())
    op.add_column("event", sa.Column("updated_at", schema.PreciseTimestamp()))
    op.create_index("ix_event_stored_at_message_id", "event",
                    ["stored_at", "message_id"])

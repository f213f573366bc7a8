"""A project_id column on events and a per-type trait summary.

Revision ID: 0003_tenant_column_trait_summary
Revises: 0002_query_indexes
Create Date: 2026-11-24

- ``event.project_id`` copies the event's text ``project_id`` trait (when
  at most 255 characters long), with a (project_id, generated,
  message_id) index: a tenant's page of events is one index range
  instead of a join through every text trait.
- ``event_type_trait`` lists the (trait name, dtype) pairs stored with
  each event type, so listing a type's trait types no longer scans all
  of its traits.

Both are filled from the events already stored.
"""

import sqlalchemy as sa
from alembic import op

from panko_like.storage.sqlalchemy import mysql, schema

revision = "0003_tenant_column_trait_summary"
down_revision = "0002_query_indexes"
branch_labels = None
depends_on = None

_TRAIT_TABLES = (
    ("trait_text", 1),
    ("trait_int", 2),
    ("trait_float", 3),
    ("trait_datetime", 4),
)


def _mysql_options(bind):
    if bind.dialect.name != "mysql":
        return {}
    return {
        "mysql_engine": "InnoDB",
        "mysql_charset": "utf8mb4",
        "mysql_collate": mysql.binary_collation(bind),
    }


def upgrade():
    bind = op.get_bind()
    op.add_column("event", sa.Column("project_id", sa.String(255)))
    op.execute(schema.fill_id_column(bind, "project_id"))
    op.create_index(
        "ix_event_project_generated_message_id",
        "event",
        ["project_id", "generated", "message_id"],
    )
    op.create_table(
        "event_type_trait",
        sa.Column(
            "event_type_id",
            sa.Integer,
            sa.ForeignKey("event_type.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("dtype", sa.Integer, primary_key=True, autoincrement=False),
        **_mysql_options(bind),
    )
    _fill_summary()


def _fill_summary():
    event = sa.table("event", sa.column("id"), sa.column("event_type_id"))
    summary = sa.table(
        "event_type_trait",
        sa.column("event_type_id"),
        sa.column("key"),
        sa.column("dtype"),
    )
    for name, dtype in _TRAIT_TABLES:
        trait = sa.table(name, sa.column("event_id"), sa.column("key"))
        pairs = (
            sa.select(
                event.c.event_type_id, trait.c.key, sa.literal(dtype)
            )
            .join_from(trait, event, trait.c.event_id == event.c.id)
            .where(event.c.event_type_id.is_not(None))
            .distinct()
        )
        op.execute(
            sa.insert(summary).from_select(
                ["event_type_id", "key", "dtype"], pairs
            )
        )

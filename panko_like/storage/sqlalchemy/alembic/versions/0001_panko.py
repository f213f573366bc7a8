"""Panko's schema, as Panko's last release created it.

Revision ID: 0001_panko
Revises:
Create Date: 2026-11-24

A database that Panko created is stamped at this revision by dbsync and
then upgraded, so this revision must stay exactly Panko's tables.
"""

import sqlalchemy as sa
from alembic import op

from panko_like.storage.sqlalchemy.schema import PreciseTimestamp

revision = "0001_panko"
down_revision = None
branch_labels = None
depends_on = None

# Revision 0002 gives every table its final MySQL collation.
_MYSQL = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _trait_table(name, value_type):
    op.create_table(
        name,
        sa.Column(
            "event_id",
            sa.Integer,
            sa.ForeignKey("event.id"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", value_type),
        **_MYSQL,
    )
    op.create_index(f"ix_{name}_event_id_key", name, ["event_id", "key"])


def upgrade():
    op.create_table(
        "event_type",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("desc", sa.String(255), unique=True),
        **_MYSQL,
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.String(50), unique=True),
        sa.Column("generated", PreciseTimestamp()),
        sa.Column("raw", sa.Text),
        sa.Column(
            "event_type_id", sa.Integer, sa.ForeignKey("event_type.id")
        ),
        **_MYSQL,
    )
    op.create_index("ix_event_generated", "event", ["generated"])
    op.create_index("ix_event_message_id", "event", ["message_id"])
    op.create_index("ix_event_type_id", "event", ["event_type_id"])
    _trait_table("trait_text", sa.String(255))
    _trait_table("trait_int", sa.BigInteger)
    _trait_table("trait_float", sa.Float(53))
    _trait_table("trait_datetime", PreciseTimestamp())

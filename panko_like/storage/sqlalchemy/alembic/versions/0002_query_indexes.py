"""Whole text values, binary collation on MySQL, indexes for queries.

Revision ID: 0002_query_indexes
Revises: 0001_panko
Create Date: 2026-11-24

- trait_text.value grows from 255 to MAX_TEXT_LENGTH characters (Panko
  refused or cut longer values); raw becomes MEDIUMTEXT on MySQL.
- MySQL tables move to utf8mb4 with a binary, no-pad collation: Panko's
  ``*_general_ci`` made ``=`` case-, accent- and trailing-space-blind
  and its ``event_type`` table could not hold 4-byte characters.
- Trait values get (key, value) indexes; events get indexes for the
  time-ordered pages, alone or per event type. Panko's indexes that an
  index or primary key already covers are dropped.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from panko_like.storage import models
from panko_like.storage.sqlalchemy import mysql as mysql_quirks

revision = "0002_query_indexes"
down_revision = "0001_panko"
branch_labels = None
depends_on = None

_TRAIT_TABLES = ("trait_text", "trait_int", "trait_float", "trait_datetime")
#: trait_text's (key, value) index as this revision made it, per dialect
#: (a value prefix where index entries are capped in size). Later
#: revisions may change it; this one stays as it ran.
_TEXT_KEY_VALUE_INDEX = {
    "postgresql": "CREATE INDEX ix_trait_text_key_value ON trait_text "
                  "(key, left(value, 255))",
    "mysql": "CREATE INDEX ix_trait_text_key_value ON trait_text "
             "(`key`, `value`(255))",
    "sqlite": "CREATE INDEX ix_trait_text_key_value ON trait_text "
              '("key", value)',
}


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "mysql":
        collation = mysql_quirks.binary_collation(op.get_bind())
        for name in ("event_type", "event") + _TRAIT_TABLES:
            op.execute(
                f"ALTER TABLE `{name}` CONVERT TO CHARACTER SET utf8mb4 "
                f"COLLATE {collation}"
            )
        op.alter_column(
            "event", "raw", type_=mysql.MEDIUMTEXT(), existing_nullable=True
        )
    if dialect != "sqlite":
        # SQLite does not enforce VARCHAR lengths.
        op.alter_column(
            "trait_text",
            "value",
            type_=sa.String(models.MAX_TEXT_LENGTH),
            existing_type=sa.String(255),
            existing_nullable=True,
        )

    op.create_index(
        "ix_event_generated_message_id", "event", ["generated", "message_id"]
    )
    op.create_index(
        "ix_event_type_generated_message_id",
        "event",
        ["event_type_id", "generated", "message_id"],
    )
    op.drop_index("ix_event_generated", table_name="event")
    op.drop_index("ix_event_message_id", table_name="event")
    op.drop_index("ix_event_type_id", table_name="event")

    op.execute(_TEXT_KEY_VALUE_INDEX[dialect])
    for name in _TRAIT_TABLES:
        if name != "trait_text":
            op.create_index(f"ix_{name}_key_value", name, ["key", "value"])
        op.drop_index(f"ix_{name}_event_id_key", table_name=name)

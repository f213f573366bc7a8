"""A user_id column on events.

Revision ID: 0005_event_user_column
Revises: 0004_event_traits_column
Create Date: 2026-11-24

``event.user_id`` copies the event's text ``user_id`` trait (when at
most 255 characters long), as ``event.project_id`` does its project,
with a (user_id, project_id, generated, message_id) index. Every page a
non-admin asks for names their own user and project: it is then one
index range walked in order, instead of every event of the user
gathered from the trait table and sorted. Filled from the events
already stored.
"""

import sqlalchemy as sa
from alembic import op

from panko_like.storage.sqlalchemy import schema

revision = "0005_event_user_column"
down_revision = "0004_event_traits_column"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("event", sa.Column("user_id", sa.String(255)))
    op.execute(schema.fill_id_column(op.get_bind(), "user_id"))
    op.create_index(
        "ix_event_user_project_generated_message_id",
        "event",
        ["user_id", "project_id", "generated", "message_id"],
    )

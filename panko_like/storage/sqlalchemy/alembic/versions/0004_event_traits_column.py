"""Each event's traits, in a column of its own row.

Revision ID: 0004_event_traits_column
Revises: 0003_tenant_column_trait_summary
Create Date: 2026-11-24

``event.traits`` keeps every trait of the event as JSON (see
``traits.encode_traits``): a page of events is then one index range of
the event table, instead of a second query that probes each of the four
trait tables once per event. The trait tables stay, for the filters.

Filled from the traits already stored, in batches of events by id.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema
from panko_like.storage.sqlalchemy import traits as trait_codec

revision = "0004_event_traits_column"
down_revision = "0003_tenant_column_trait_summary"
branch_labels = None
depends_on = None

#: Events filled per round of reads and one UPDATE.
BATCH = 2000


def upgrade():
    op.add_column(
        "event",
        sa.Column(
            "traits", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
        ),
    )
    _fill(op.get_bind())


def _fill(bind):
    event = sa.table("event", sa.column("id"), sa.column("traits"))
    update = (
        sa.update(event)
        .where(event.c.id == sa.bindparam("event_id"))
        .values(traits=sa.bindparam("encoded"))
    )
    last = None
    while True:
        query = sa.select(event.c.id).order_by(event.c.id).limit(BATCH)
        if last is not None:
            query = query.where(event.c.id > last)
        ids = bind.execute(query).scalars().all()
        if not ids:
            return
        last = ids[-1]
        found = {event_id: [] for event_id in ids}
        for table, dtype in schema.TABLE_DTYPES:
            rows = bind.execute(
                sa.select(table.c.event_id, table.c.key, table.c.value)
                .where(table.c.event_id.between(ids[0], last))
            )
            for event_id, key, value in rows:
                if event_id in found:
                    found[event_id].append(models.Trait(key, dtype, value))
        bind.execute(update, [
            {"event_id": event_id,
             "encoded": trait_codec.encode_traits(traits)}
            for event_id, traits in found.items()
        ])

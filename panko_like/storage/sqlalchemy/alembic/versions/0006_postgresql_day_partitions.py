"""PostgreSQL: events partitioned by day.

Revision ID: 0006_postgresql_day_partitions
Revises: 0005_event_user_column
Create Date: 2026-11-25

On PostgreSQL, ``event`` and the four trait tables become tables
partitioned by ranges of event ids, one partition per day (or more, see
``[database] partition_days``), and an event's id names its day:
``day << 40`` plus a number from ``event_id_seq``. The expirer then drops
a day's partitions instead of deleting its rows one by one. Since a
unique index on a partitioned table must include its partition key, the
new ``event_message`` table keeps message_ids unique, and leads a lookup
by message_id to the one partition that holds the event. The trait
tables lose their foreign key to ``event``, which dropping a partition
would have to check.

The events already stored are copied into the new tables with their
ids moved into their day (``day << 40`` plus the old id; the sequence
goes on from the highest old id, so new ids never meet them). They get
at most about MAX_STORED_PARTITIONS partitions, each as many days wide
as that takes: a Panko database keeps every event forever by default,
and one partition per day of years of events would make every query
without a time range plan and lock thousands of tables. Other databases
are not changed.
"""

import datetime
import math

from alembic import op

revision = "0006_postgresql_day_partitions"
down_revision = "0005_event_user_column"
branch_labels = None
depends_on = None

_TRAITS = ("trait_text", "trait_int", "trait_float", "trait_datetime")
_DAY = "(CAST(generated AS date) - DATE '1970-01-01')"
#: About the most partitions (per table) given to the stored events.
MAX_STORED_PARTITIONS = 60


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    sequence = bind.exec_driver_sql(
        "SELECT pg_get_serial_sequence('event', 'id')"
    ).scalar()
    if sequence is None:
        start = bind.exec_driver_sql(
            "SELECT coalesce(max(id), 0) + 1 FROM event"
        ).scalar()
        bind.exec_driver_sql(
            f"CREATE SEQUENCE event_id_seq AS bigint START WITH {start}"
        )
    else:
        bind.exec_driver_sql(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        if sequence.split(".")[-1] != "event_id_seq":
            bind.exec_driver_sql(
                f"ALTER SEQUENCE {sequence} RENAME TO event_id_seq"
            )
        bind.exec_driver_sql("ALTER SEQUENCE event_id_seq AS bigint")
    for table in ("event", *_TRAITS):
        bind.exec_driver_sql(
            f"ALTER TABLE {table} RENAME TO unpartitioned_{table}"
        )
    _create_tables(bind)
    days = bind.exec_driver_sql(
        f"SELECT DISTINCT {_DAY} FROM unpartitioned_event"
    ).scalars().all()
    for first, end in _stored_ranges(days):
        for table in ("event", *_TRAITS):
            bind.exec_driver_sql(
                f"CREATE TABLE {_partition(table, first)} PARTITION OF "
                f"{table} FOR VALUES FROM ({first << 40}) "
                f"TO ({end << 40})"
            )
    _copy_rows(bind)
    for table in (*_TRAITS, "event"):
        bind.exec_driver_sql(f"DROP TABLE unpartitioned_{table} CASCADE")
    _create_indexes(bind)
    bind.exec_driver_sql("ANALYZE event_message")


def _stored_ranges(days):
    """``[(first day, day after the last)]`` covering ``days``: ranges
    of one width, aligned on its multiples from 1970-01-01 (as writers
    align theirs), wide enough for about MAX_STORED_PARTITIONS of them
    to span every day. Writers give the days these leave out partitions
    of ``[database] partition_days``.

    A day of None stands for the events without a time, which go to
    day 0 (see partitions.event_day) but do not widen the ranges.
    """
    dated = [day for day in days if day is not None]
    span = max(dated) - min(dated) + 1 if dated else 1
    width = max(1, math.ceil(span / MAX_STORED_PARTITIONS))
    firsts = sorted({
        (0 if day is None else day) // width * width for day in days
    })
    return [(first, first + width) for first in firsts]


def _partition(table, day):
    date = datetime.date(1970, 1, 1) + datetime.timedelta(days=day)
    return f"{table}_p{date.year:04d}{date.month:02d}{date.day:02d}"


def _create_tables(bind):
    bind.exec_driver_sql(
        "CREATE TABLE event ("
        "id BIGINT NOT NULL, "
        "message_id VARCHAR(50), "
        "generated TIMESTAMP WITHOUT TIME ZONE, "
        "raw TEXT, "
        "event_type_id INTEGER CONSTRAINT event_event_type_id_fkey "
        "REFERENCES event_type (id), "
        "project_id VARCHAR(255), "
        "traits TEXT, "
        "user_id VARCHAR(255)"
        ") PARTITION BY RANGE (id)"
    )
    for table, value_type in (
        ("trait_text", "VARCHAR(4096)"),
        ("trait_int", "BIGINT"),
        ("trait_float", "DOUBLE PRECISION"),
        ("trait_datetime", "TIMESTAMP WITHOUT TIME ZONE"),
    ):
        bind.exec_driver_sql(
            f"CREATE TABLE {table} ("
            "event_id BIGINT NOT NULL, "
            "key VARCHAR(255) NOT NULL, "
            f"value {value_type}"
            ") PARTITION BY RANGE (event_id)"
        )
    bind.exec_driver_sql(
        "CREATE TABLE event_message ("
        "message_id VARCHAR(50) NOT NULL, "
        "event_id BIGINT NOT NULL)"
    )


def _copy_rows(bind):
    # Each old id with the new one: its day above it.
    bind.exec_driver_sql(
        "CREATE TEMPORARY TABLE moved_event ON COMMIT DROP AS "
        f"SELECT id AS old_id, (CAST(coalesce({_DAY}, 0) AS bigint) << 40) "
        "+ id AS new_id FROM unpartitioned_event"
    )
    bind.exec_driver_sql("ALTER TABLE moved_event ADD PRIMARY KEY (old_id)")
    bind.exec_driver_sql(
        "INSERT INTO event (id, message_id, generated, raw, event_type_id, "
        "project_id, traits, user_id) "
        "SELECT m.new_id, e.message_id, e.generated, e.raw, "
        "e.event_type_id, e.project_id, e.traits, e.user_id "
        "FROM unpartitioned_event e JOIN moved_event m ON m.old_id = e.id"
    )
    for table in _TRAITS:
        # A trait whose event is gone (Panko's expirer could leave
        # some) has nowhere to go.
        bind.exec_driver_sql(
            f"INSERT INTO {table} (event_id, key, value) "
            "SELECT m.new_id, t.key, t.value "
            f"FROM unpartitioned_{table} t "
            "JOIN moved_event m ON m.old_id = t.event_id"
        )
    bind.exec_driver_sql(
        "INSERT INTO event_message (message_id, event_id) "
        "SELECT message_id, id FROM event WHERE message_id IS NOT NULL"
    )


def _create_indexes(bind):
    statements = [
        "ALTER TABLE event ADD PRIMARY KEY (id)",
        "ALTER TABLE event_message ADD PRIMARY KEY (message_id)",
        "CREATE INDEX ix_event_message_event_id ON event_message (event_id)",
        "CREATE INDEX ix_event_generated_message_id ON event "
        "(generated, message_id)",
        "CREATE INDEX ix_event_type_generated_message_id ON event "
        "(event_type_id, generated, message_id)",
        "CREATE INDEX ix_event_project_generated_message_id ON event "
        "(project_id, generated, message_id)",
        "CREATE INDEX ix_event_user_project_generated_message_id ON event "
        "(user_id, project_id, generated, message_id)",
        "CREATE INDEX ix_trait_text_key_value ON trait_text "
        "(key, left(value, 255))",
    ]
    for table in _TRAITS:
        statements.append(f"ALTER TABLE {table} ADD PRIMARY KEY "
                          "(event_id, key)")
    for table in _TRAITS[1:]:
        statements.append(f"CREATE INDEX ix_{table}_key_value ON {table} "
                          "(key, value)")
    for statement in statements:
        bind.exec_driver_sql(statement)

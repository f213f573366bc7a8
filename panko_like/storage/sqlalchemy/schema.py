"""The SQL schema at the newest alembic revision.

Panko's six tables (so that its databases can be adopted as they are),
plus the indexes the query shapes need. Alembic owns every change: a
change here goes with a new revision in ``alembic/versions``.
"""

import datetime
import decimal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext import compiler

from panko_like.storage import models

#: Characters of a text trait value covered by the (key, value) index.
#: PostgreSQL and MySQL cap the size of an index entry, so they index
#: this prefix; the full value is still compared.
TEXT_INDEX_PREFIX = 255

_EPOCH = datetime.datetime(1970, 1, 1)
_MICRO = decimal.Decimal(1_000_000)


class PreciseTimestamp(sa.types.TypeDecorator):
    """A naive UTC datetime with microseconds on every backend.

    MySQL's DATETIME once dropped microseconds, so Panko kept seconds
    since the epoch as DECIMAL(20,6) there; adopted MySQL databases keep
    that representation. Elsewhere it is a plain DATETIME/TIMESTAMP.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "mysql":
            return dialect.type_descriptor(
                mysql.DECIMAL(precision=20, scale=6, asdecimal=True)
            )
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "mysql":
            return value
        delta = value - _EPOCH
        micros = (
            delta.days * 86_400_000_000
            + delta.seconds * 1_000_000
            + delta.microseconds
        )
        return decimal.Decimal(micros) / _MICRO

    def process_result_value(self, value, dialect):
        if value is None or dialect.name != "mysql":
            return value
        micros = int(decimal.Decimal(value) * _MICRO)
        return _EPOCH + datetime.timedelta(microseconds=micros)


class StoredNow(sa.sql.expression.FunctionElement):
    """The database's clock as ``event.stored_at`` keeps it: the time of
    the statement, in UTC (seconds since the epoch on MySQL, as
    PreciseTimestamp keeps times there). Every writer and every API node
    then stamps events with one clock, the database server's."""

    type = sa.DateTime()
    inherit_cache = True


@compiler.compiles(StoredNow, "postgresql")
def _stored_now_postgresql(element, compiler_, **kw):
    return "(statement_timestamp() AT TIME ZONE 'UTC')"


@compiler.compiles(StoredNow, "mysql")
def _stored_now_mysql(element, compiler_, **kw):
    return "(unix_timestamp(now(6)))"


@compiler.compiles(StoredNow)
def _stored_now_sqlite(element, compiler_, **kw):
    # SQLite's clock has milliseconds; the digits of the microseconds
    # are padded so that SQLAlchemy reads them as such. SQLite refuses
    # such a default on a column added to a table, so rows written by
    # panko_like get it from the writer (see writes.Writer.stamped).
    return "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


def _mysql_table_args():
    # The collation is the server's binary no-pad one, set by migration
    # 0002 (see mysql.binary_collation).
    return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


metadata = sa.MetaData()

event_type = sa.Table(
    "event_type",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("desc", sa.String(255), unique=True),
    **_mysql_table_args(),
)

#: An event's id. On PostgreSQL a 64-bit number that also names the
#: event's day (see event_id), elsewhere Panko's 32-bit one.
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite", "mysql")

event = sa.Table(
    "event",
    metadata,
    sa.Column("id", EVENT_ID, primary_key=True),
    # Unique on SQLite and MySQL. On PostgreSQL, whose event table is
    # partitioned by day, event_message keeps it unique instead.
    sa.Column("message_id", sa.String(50), unique=True),
    sa.Column("generated", PreciseTimestamp()),
    sa.Column("raw", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")),
    sa.Column("event_type_id", sa.Integer, sa.ForeignKey("event_type.id")),
    # The value of the event's text ``project_id`` trait when it has one
    # of at most ID_COLUMN_LENGTH characters, else NULL: tenant pages
    # are then one index range (revision 0003).
    sa.Column("project_id", sa.String(255)),
    # The same for its text ``user_id`` trait, which every page of a
    # non-admin names (revision 0005).
    sa.Column("user_id", sa.String(255)),
    # Every trait of the event, as encode_traits writes them: a page of
    # events is then read from this table alone (revision 0004). NULL
    # in rows written without it; readers then use the trait tables.
    sa.Column("traits", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")),
    # When the event was stored, by the database's clock (revision
    # 0009); events stored before that revision have the time of the
    # upgrade.
    sa.Column("stored_at", PreciseTimestamp(), server_default=StoredNow()),
    # When its traits were last changed through update_traits, or NULL.
    sa.Column("updated_at", PreciseTimestamp()),
    sa.Index("ix_event_generated_message_id", "generated", "message_id"),
    sa.Index("ix_event_stored_at_message_id", "stored_at", "message_id"),
    sa.Index(
        "ix_event_type_generated_message_id",
        "event_type_id",
        "generated",
        "message_id",
    ),
    sa.Index(
        "ix_event_project_generated_message_id",
        "project_id",
        "generated",
        "message_id",
    ),
    sa.Index(
        "ix_event_user_project_generated_message_id",
        "user_id",
        "project_id",
        "generated",
        "message_id",
    ),
    postgresql_partition_by="RANGE (id)",
    **_mysql_table_args(),
)

#: PostgreSQL only (revision 0006; see partitions): every stored
#: message_id, and the id of its event. Its primary key keeps
#: message_ids unique across the day partitions of ``event`` (a
#: unique index on a partitioned table must include the partition
#: key), and it routes a lookup by message_id to the one partition
#: that holds the event.
event_message = sa.Table(
    "event_message",
    metadata,
    sa.Column("message_id", sa.String(50), primary_key=True),
    sa.Column("event_id", sa.BigInteger, nullable=False, index=True),
)

#: The text traits that the event's own row also keeps, each in the
#: column of that name (when short enough: see ID_COLUMN_LENGTH).
ID_TRAITS = ("project_id", "user_id")

#: Longest value copied into ``event.project_id`` or ``event.user_id``.
ID_COLUMN_LENGTH = 255

#: Every (trait name, dtype) stored with events of a type, kept by the
#: writers so that listing a type's trait types is an index lookup
#: (revision 0003). A row may outlive the last event that had it; the
#: reader checks each row against the trait tables.
event_type_trait = sa.Table(
    "event_type_trait",
    metadata,
    sa.Column(
        "event_type_id",
        sa.Integer,
        sa.ForeignKey("event_type.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("dtype", sa.Integer, primary_key=True, autoincrement=False),
    **_mysql_table_args(),
)


def _trait_table(name, value_type, value_index):
    table = sa.Table(
        name,
        metadata,
        sa.Column(
            "event_id",
            EVENT_ID,
            # Not on PostgreSQL, where dropping a day's partition would
            # otherwise check every trait table for rows naming it.
            sa.ForeignKey("event.id"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", value_type),
        postgresql_partition_by="RANGE (event_id)",
        **_mysql_table_args(),
    )
    value_index(table)
    return table


def _plain_key_value_index(table):
    sa.Index(f"ix_{table.name}_key_value", table.c.key, table.c.value)


trait_text = _trait_table(
    "trait_text",
    sa.String(models.MAX_TEXT_LENGTH),
    # Its (key, value) index differs by dialect: see DDL_INDEXES.
    lambda table: None,
)
trait_int = _trait_table("trait_int", sa.BigInteger, _plain_key_value_index)
trait_float = _trait_table(
    "trait_float",
    sa.Float(53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql"),
    _plain_key_value_index,
)
trait_datetime = _trait_table(
    "trait_datetime", PreciseTimestamp(), _plain_key_value_index
)

#: Panko's dtype -> the table that keeps its values.
TRAIT_TABLES = {
    models.NONE_TYPE: trait_text,
    models.TEXT_TYPE: trait_text,
    models.INT_TYPE: trait_int,
    models.FLOAT_TYPE: trait_float,
    models.DATETIME_TYPE: trait_datetime,
}
#: Panko's dtype -> the dtype its values read back as.
STORAGE_DTYPES = {
    models.NONE_TYPE: models.TEXT_TYPE,
    models.TEXT_TYPE: models.TEXT_TYPE,
    models.INT_TYPE: models.INT_TYPE,
    models.FLOAT_TYPE: models.FLOAT_TYPE,
    models.DATETIME_TYPE: models.DATETIME_TYPE,
}
#: Each trait table once, with the dtype its values read back as.
TABLE_DTYPES = (
    (trait_text, models.TEXT_TYPE),
    (trait_int, models.INT_TYPE),
    (trait_float, models.FLOAT_TYPE),
    (trait_datetime, models.DATETIME_TYPE),
)


#: Indexes created by DDL of their own rather than from this metadata.
#: trait_text's (key, value) index differs by dialect: PostgreSQL and
#: MySQL cap the size of an index entry, so they index a prefix of the
#: value (an expression on PostgreSQL, a column prefix on MySQL) and the
#: queries still compare the full value (revision 0002); SQLite indexes
#: the whole value and the event's id, so that a lookup by value never
#: reads the table (revision 0007).
DDL_INDEXES = ("ix_trait_text_key_value",)


def fill_id_column(bind, name):
    """The UPDATE that copies each event's text trait ``name`` into the
    event's column of that name, as the writers would have (revisions
    0003 and 0005)."""
    event = sa.table("event", sa.column("id"), sa.column(name))
    trait = sa.table(
        "trait_text",
        sa.column("event_id"),
        sa.column("key"),
        sa.column("value"),
    )
    length = sa.func.char_length if bind.dialect.name == "mysql" else (
        sa.func.length
    )
    value = (
        sa.select(trait.c.value)
        .where(
            trait.c.event_id == event.c.id,
            trait.c.key == name,
            length(trait.c.value) <= ID_COLUMN_LENGTH,
        )
        .scalar_subquery()
    )
    return sa.update(event).values({name: value})

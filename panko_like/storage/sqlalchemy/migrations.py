"""The schema's versions, run by alembic.

A fresh database gets the schema and is stamped with the newest
revision; a database that Panko created (its tables, with no alembic
version or with Panko's own) is stamped with Panko's revision and
migrated in place; any other is upgraded to the newest revision.
"""

import os

import alembic.command
import alembic.config
import alembic.util
import sqlalchemy as sa
from alembic.runtime import migration

from panko_like import storage
from panko_like.storage.sqlalchemy import partitions, schema

#: The revision that is exactly Panko's schema.
PANKO_REVISION = "0001_panko"
#: The revisions of Panko's own alembic scripts: a database migrated by
#: them has Panko's schema all the same (its one revision made
#: trait_int.value a big integer, as Panko's last release creates it).
PANKO_ALEMBIC_REVISIONS = frozenset({"c3955547bff2"})
#: The tables every Panko database has.
PANKO_TABLES = {"event", "event_type", "trait_text"}


def alembic_config(conn) -> alembic.config.Config:
    """Alembic's configuration, running on ``conn``."""
    cfg = alembic.config.Config()
    cfg.set_main_option(
        "script_location", os.path.join(os.path.dirname(__file__), "alembic"))
    cfg.attributes["connection"] = conn
    return cfg


def schema_state(engine) -> str:
    """'empty', 'panko' (Panko's, never migrated by panko_like) or
    'alembic'."""
    names = set(sa.inspect(engine).get_table_names())
    if "alembic_version" in names and not (
            PANKO_TABLES <= names
            and _panko_stamped(_stamped(engine))):
        return "alembic"
    if PANKO_TABLES <= names:
        return "panko"
    return "empty"


def _panko_stamped(revisions: set[str]) -> bool:
    """Whether ``revisions`` are those Panko's own scripts leave (an
    empty version table is no one's: alembic decides)."""
    return bool(revisions) and revisions <= PANKO_ALEMBIC_REVISIONS


def _stamped(engine) -> set[str]:
    """The revisions in the alembic_version table."""
    with engine.connect() as conn:
        return set(conn.execute(
            sa.text("SELECT version_num FROM alembic_version")).scalars())


def current_revision(engine) -> str | None:
    """The alembic revision of the database, None when it has none."""
    with engine.connect() as conn:
        return migration.MigrationContext.configure(
            conn).get_current_revision()


def upgrade(engine) -> str:
    """Create, adopt or migrate the schema; say what was done."""
    state = schema_state(engine)
    before = current_revision(engine) if state == "alembic" else None
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        if state == "panko":
            # purge: Panko's own revision, if any, is not one of ours.
            alembic.command.stamp(cfg, PANKO_REVISION, purge=True)
            before = PANKO_REVISION
        try:
            alembic.command.upgrade(cfg, "head")
        except alembic.util.CommandError as exc:
            raise storage.StorageMisconfigured(
                f"the database's schema is at revision {before}, which "
                "this version of panko_like does not know (a newer "
                f"release, or another program, wrote it): {exc}") from None
    after = current_revision(engine)
    if state == "panko":
        return f"adopted a Panko database and migrated it to {after}"
    if state == "empty":
        return f"created the schema at revision {after}"
    if before == after:
        return f"schema already at revision {after}; nothing to do"
    return f"migrated the schema from {before} to {after}"


def include_object(dialect_name):
    """Alembic's filter for comparing the metadata of ``schema`` with a
    database of ``dialect_name`` (what each database's schema leaves
    out)."""

    def include(obj, name, type_, reflected, compare_to):
        if type_ == "index" and name in schema.DDL_INDEXES:
            return False
        if dialect_name != "postgresql":
            return not (type_ == "table" and name == "event_message")
        if type_ == "table":
            return not partitions.is_partition_name(name)
        if type_ == "unique_constraint" and not reflected:
            # event.message_id: event_message's primary key instead.
            return obj.table.name != "event"
        if type_ == "foreign_key_constraint" and not reflected:
            return obj.referred_table.name != "event"
        return True

    return include

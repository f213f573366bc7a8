"""Alembic environment: runs on the connection the driver hands over."""

from alembic import context

from panko_like.storage.sqlalchemy import tables


def _include_object(obj, name, type_, reflected, compare_to):
    # Dialect-specific DDL indexes are not in the metadata.
    return not (type_ == "index" and name in tables.DDL_INDEXES)


def run_migrations_online():
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=tables.metadata,
        include_object=_include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

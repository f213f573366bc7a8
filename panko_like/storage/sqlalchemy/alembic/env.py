"""Alembic environment: runs on the connection the driver hands over."""

from alembic import context

from panko_like.storage.sqlalchemy import migrations, schema


def run_migrations_online():
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        include_object=migrations.include_object(connection.dialect.name),
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

"""Every option of the service, gathered for oslo-config-generator.

Each option is declared by the module that reads it; this module only
lists them, and imports nothing that imports it.
"""

from panko_like import api, listener, storage
from panko_like.api import healthcheck, server, tokens, worker
from panko_like.storage.sqlalchemy import (
    engine,
    partitions,
    postgresql,
    sqlite,
    urls,
)


def list_opts():
    """Return ``[(group, [opts])]`` for the sample config generator."""
    return [
        ("DEFAULT", list(storage.DEFAULT_OPTS)),
        ("database", [
            *storage.OPTS,
            *partitions.OPTS,
            *sqlite.OPTS,
            *engine.OPTS,
            *urls.OPTS,
            *postgresql.OPTS,
        ]),
        ("api", [*api.OPTS, *tokens.OPTS, *server.OPTS, *worker.OPTS,
                 *healthcheck.OPTS]),
        ("listener", list(listener.OPTS)),
    ]

"""Every option of the service, gathered for oslo-config-generator."""

import itertools

from panko_like import api, storage
from panko_like.cmd import api as api_cmd
from panko_like.storage.sqlalchemy import urls


def list_opts():
    """Return ``[(group, [opts])]`` for the sample config generator."""
    return [
        ("DEFAULT", list(itertools.chain(storage.DEFAULT_OPTS))),
        ("database", list(itertools.chain(storage.OPTS, urls.OPTS))),
        ("api", list(itertools.chain(api.OPTS, api_cmd.OPTS))),
    ]

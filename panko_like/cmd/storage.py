"""``panko-like-dbsync`` and ``panko-like-expirer``."""

import sys

from oslo_log import log

import panko_like
from panko_like import cmd, storage

LOG = log.getLogger(__name__)

#: What each command does, at the top of its --help.
DBSYNC_HELP = (
    "Create the storage schema of [database] connection, or upgrade it to "
    "the newest revision (adopting a database Panko created); safe to run "
    "any number of times."
)
EXPIRER_HELP = (
    "Delete the events older than [database] event_time_to_live seconds, "
    "in batches of [database] events_delete_batch_size, until none is "
    "left."
)


def _connect(argv, description):
    conf = cmd.prepare(argv, description=description)
    return conf, cmd.connect(conf)


def dbsync(argv=None):
    """Create or upgrade the storage schema."""
    _conf, conn = _connect(sys.argv[1:] if argv is None else argv,
                           DBSYNC_HELP)
    try:
        print(conn.upgrade())
    except storage.StorageError as exc:
        sys.exit(f"cannot upgrade the schema: {storage.one_line(exc)}")
    conn.close()


def expirer(argv=None):
    """Delete the events older than [database] event_time_to_live."""
    conf, conn = _connect(sys.argv[1:] if argv is None else argv,
                          EXPIRER_HELP)
    ttl = conf.database.event_time_to_live
    if ttl <= 0:
        print("event_time_to_live is off (<= 0): nothing to expire")
        return
    batch = conf.database.events_delete_batch_size or (
        storage.DEFAULT_DELETE_BATCH
    )
    total = 0
    try:
        while deleted := conn.clear_expired_data(ttl, batch):
            total += deleted
            LOG.info("Expired %d events so far", total)
    except (panko_like.NotImplementedError, storage.StorageError) as exc:
        message = f"cannot expire events: {storage.one_line(exc)}"
        if total:
            # Each batch was committed: those stay expired.
            message += f" ({total} expired before)"
        sys.exit(message)
    print(f"expired {total} events older than {ttl} seconds")
    conn.close()

"""``panko-like-dbsync`` and ``panko-like-expirer``."""

import sys

from oslo_log import log

import panko_like
from panko_like import cmd, storage

LOG = log.getLogger(__name__)


def _connect(argv):
    conf = cmd.prepare(argv)
    return conf, cmd.connect(conf)


def dbsync(argv=None):
    """Create or upgrade the storage schema."""
    _conf, conn = _connect(sys.argv[1:] if argv is None else argv)
    print(conn.upgrade())
    conn.close()


def expirer(argv=None):
    """Delete the events older than [database] event_time_to_live."""
    conf, conn = _connect(sys.argv[1:] if argv is None else argv)
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
    except panko_like.NotImplementedError as exc:
        sys.exit(f"cannot expire events: {exc}")
    print(f"expired {total} events older than {ttl} seconds")
    conn.close()

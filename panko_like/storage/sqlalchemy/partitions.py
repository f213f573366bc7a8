"""PostgreSQL's day partitions (revision 0006).

``event`` and the four trait tables are partitioned by ranges of the
event id, whose high bits name the event's day (see event_id): the
expirer then drops a day's tables instead of deleting its rows, and a
query over a time range reads only the partitions of those days.
Partitions are made as writers need them (DayPartitions), each covering
``[database] partition_days`` days.
"""

import bisect
import datetime
import math
import re

import sqlalchemy as sa
from oslo_config import cfg
from oslo_log import log

LOG = log.getLogger(__name__)

OPTS = [
    cfg.IntOpt(
        "partition_days",
        min=1,
        max=3660,
        help="PostgreSQL: days of events per partition of the event and "
        "trait tables. The expirer drops a partition whole once all its "
        "days have expired, and deletes row by row only in the partition "
        "the cutoff falls in; a query that names no time range reads "
        "(and locks) every partition, so keep the partitions retained "
        "(time to live / partition_days) to a few dozen, or raise "
        "PostgreSQL's max_locks_per_transaction. Unset: 1 day when "
        "event_time_to_live is at most 60 days, else its 60th part "
        "(rounded up), and 30 days when events are kept forever. "
        "Applies to partitions created after a change.",
    ),
]

#: About how many partitions an automatic width keeps (see
#: partition_width): few enough that a query reading them all plans
#: and locks a few hundred tables at most.
RETAINED_PARTITIONS = 60
#: The automatic width when events are kept forever.
FOREVER_WIDTH = 30
#: Days after today that still get partitions of their own (clocks that
#: run ahead); later events go to the catch-all partition.
FUTURE_DAYS = 7

#: Bits of a PostgreSQL event id below its day: the id is
#: ``day << DAY_SHIFT`` plus a number from the event_id_seq sequence.
DAY_SHIFT = 40
#: The sequence that numbers PostgreSQL's events.
EVENT_ID_SEQUENCE = "event_id_seq"
#: Each partitioned table and the column holding its event's id, in
#: the order every statement locks them: readers name ``event`` first,
#: writers lock it before anything else (postgresql.Dialect.store_batch),
#: and creating or dropping partitions takes the parents in this order
#: too, so that it never deadlocks with either.
PARTITIONED = (
    ("event", "id"),
    ("trait_text", "event_id"),
    ("trait_int", "event_id"),
    ("trait_float", "event_id"),
    ("trait_datetime", "event_id"),
)
_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_DATE = _EPOCH.date()
_PARTITION_NAME = re.compile(
    r"^(?:event|trait_text|trait_int|trait_float|trait_datetime)"
    r"_(?:p\d{8}|default)$"
)
_BOUNDS = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def event_day(generated) -> int:
    """Days from 1970-01-01 to the day of ``generated`` (UTC, naive);
    an event without a time counts as of that first day."""
    if generated is None:
        return 0
    return (generated.date() - _EPOCH_DATE).days


def event_id(day: int, sequence: int) -> int:
    """The PostgreSQL id of an event of ``day`` numbered ``sequence``."""
    return (day << DAY_SHIFT) + sequence


def first_id(day: int) -> int:
    """The lowest PostgreSQL event id of ``day``."""
    return day << DAY_SHIFT


def day_start(day: int) -> datetime.datetime:
    """Midnight (naive UTC) at the start of ``day``."""
    return _EPOCH + datetime.timedelta(days=day)


def partition_name(table: str, day: int) -> str:
    """The name of ``table``'s partition that starts on ``day``."""
    date = _EPOCH_DATE + datetime.timedelta(days=day)
    return f"{table}_p{date.year:04d}{date.month:02d}{date.day:02d}"


def is_partition_name(name: str) -> bool:
    return bool(_PARTITION_NAME.match(name))


def partition_days(bind, table="event"):
    """``[(first day, day after the last, name)]`` of ``table``'s
    partitions, in order."""
    rows = bind.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:table AS regclass)"
    ), {"table": table}).all()
    found = []
    for name, bound in rows:
        match = _BOUNDS.search(bound or "")
        if match is None:
            continue  # not one of ours (a DEFAULT partition)
        low, high = (int(value) for value in match.groups())
        found.append((low >> DAY_SHIFT, high >> DAY_SHIFT, name))
    return sorted(found)


def create_partitions(bind, first, end):
    """Partitions of every partitioned table for days [first, end)."""
    for table, _ in PARTITIONED:
        bind.exec_driver_sql(
            f"CREATE TABLE {partition_name(table, first)} PARTITION OF "
            f"{table} FOR VALUES FROM ({first_id(first)}) "
            f"TO ({first_id(end)})"
        )



def partition_width(conf) -> int:
    """Days per partition: ``[database] partition_days``, or when unset
    one chosen from ``event_time_to_live`` so that about
    RETAINED_PARTITIONS of them hold what is kept (one day each for a
    time to live of up to that many days)."""
    if conf is None:
        return 1
    db = conf.database
    if db.partition_days is not None:
        return db.partition_days
    if db.event_time_to_live <= 0:
        return FOREVER_WIDTH
    kept_days = math.ceil(db.event_time_to_live / 86400)
    return max(1, math.ceil(kept_days / RETAINED_PARTITIONS))


def window(conf, width, today) -> tuple[int, int]:
    """The days ``[first, end)`` that get partitions of their own: those
    the expirer keeps (``event_time_to_live``; when events are kept
    forever, RETAINED_PARTITIONS partitions' worth) and FUTURE_DAYS
    after ``today``. Events of other days go to the catch-all DEFAULT
    partition (revision 0008), so that their number, chosen by
    clients, never multiplies the tables."""
    ttl = conf.database.event_time_to_live if conf is not None else -1
    kept = (math.ceil(ttl / 86400) if ttl > 0
            else RETAINED_PARTITIONS * width)
    return today - kept - width, today + FUTURE_DAYS + 1


class DayPartitions:
    """The day partitions of a PostgreSQL database, made as writers need
    them.

    Each covers ``width`` days, aligned on multiples of ``width`` from
    1970-01-01 and cut short where it would meet a partition made with
    another width. The days known to be covered are kept, so a batch
    whose days all have a partition costs no query.
    """

    #: pg_advisory_xact_lock key of the writers creating partitions.
    LOCK = 0x70616E6B6F  # "panko"

    def __init__(self, engine, width, conf=None):
        self.engine = engine
        self.width = width
        self.conf = conf
        self._ranges = []  # [(first day, day after the last)], in order

    def _in_window(self, days):
        today = event_day(datetime.datetime.now(datetime.UTC).replace(
            tzinfo=None))
        first, end = window(self.conf, self.width, today)
        return {day for day in days if first <= day < end}

    def forget(self):
        self._ranges = []

    def _covered(self, day):
        index = bisect.bisect_right(self._ranges, (day, math.inf)) - 1
        return index >= 0 and day < self._ranges[index][1]

    def ensure(self, days):
        """Make the partitions of ``days`` that the window holds and no
        partition covers yet; the others go to the catch-all."""
        if all(self._covered(day) for day in days):
            return
        days = self._in_window(days)
        if all(self._covered(day) for day in days):
            return
        # A transaction of its own, committed before the batch's:
        # creating a partition locks its parent table whole, briefly.
        with self.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": self.LOCK})
            self._load(conn)
            for day in sorted(days):
                if self._covered(day):
                    continue
                first, end = self._free_range(day)
                if _caught_all(conn, first, end):
                    # Written before the window reached them: they stay
                    # in the catch-all, and so do the others of those
                    # days (a partition cannot take rows over).
                    LOG.warning("Events of the days from %s are in the "
                                "catch-all partition: no partition made",
                                day_start(first).date())
                    bisect.insort(self._ranges, (first, end))
                    continue
                LOG.info("Creating the partitions of %d day(s) from %s",
                         end - first, day_start(first).date())
                create_partitions(conn, first, end)
                bisect.insort(self._ranges, (first, end))

    def _load(self, conn):
        self._ranges = [(first, end)
                        for first, end, _ in partition_days(conn)]

    def _free_range(self, day):
        first = day - day % self.width
        end = first + self.width
        for low, high in self._ranges:
            if high <= day:
                first = max(first, high)
            elif low > day:
                end = min(end, low)
        return first, end

    def drop_expired(self, cutoff, reader, before_drop):
        """Drop every partition whose days have all expired, then free
        their events' message_ids; return how many were freed.

        ``before_drop(conn)`` runs in each drop's transaction, after
        the drop (the event types left without events go with it). A
        partition holding an event that the cutoff keeps (one without a
        time, which only Panko wrote) is left to the row-by-row
        deletion.
        """
        with reader.connect() as conn:
            expired = [
                (first, end) for first, end, name in partition_days(conn)
                if day_start(end) <= cutoff
                and not _keeps_an_event(conn, name, cutoff)
            ]
        if not expired:
            return 0
        for first, end in expired:
            with self.engine.begin() as conn:
                # Every parent at once, in the writers' order of tables:
                # dropping a partition takes its parent whole, and no
                # writer is then midway through a batch into those days.
                conn.exec_driver_sql(
                    "LOCK TABLE "
                    + ", ".join(f"ONLY {table}" for table, _ in PARTITIONED)
                    + " IN ACCESS EXCLUSIVE MODE"
                )
                for table, _ in PARTITIONED:
                    # IF EXISTS: another expirer may have dropped it
                    # while this one waited for the lock.
                    conn.exec_driver_sql(
                        "DROP TABLE IF EXISTS " + partition_name(table, first)
                    )
                before_drop(conn)
            LOG.info("Dropped the partitions of %d day(s) from %s",
                     end - first, day_start(first).date())
        self.forget()
        with self.engine.begin() as conn:
            count = _free_message_ids(conn, first_id(expired[-1][1]))
        LOG.info("Freed the message_ids of %d expired events", count)
        return count


def _caught_all(conn, first, end):
    """Whether the catch-all partition holds events of days [first,
    end)."""
    return conn.execute(sa.text(
        "SELECT 1 FROM event_default WHERE id >= :low AND id < :high "
        "LIMIT 1"), {"low": first_id(first), "high": first_id(end)},
    ).first() is not None


def _keeps_an_event(conn, partition, cutoff):
    """Whether an event partition whose days all precede ``cutoff``
    still holds an event that it keeps: one without a time, or (were
    its id not to name its day) a later one. Each is one probe of the
    (generated, message_id) index."""
    for condition in ("generated IS NULL", "generated >= :cutoff"):
        query = sa.text(f"SELECT 1 FROM {partition} WHERE {condition} "
                        "LIMIT 1")
        if conn.execute(query, {"cutoff": cutoff}).first():
            return True
    return False


def _free_message_ids(conn, below):
    """Delete, in one pass over event_message, the message_ids of events
    numbered below ``below`` that are gone; return how many.

    It follows the dropping of partitions rather than preceding it, so
    that no lock is held meanwhile; it also frees what an interrupted
    earlier run left. Until it ends, an expired event sent again is
    refused as a duplicate. An event kept below ``below`` (in a
    partition holding an event without a time, or in one that a late
    writer created anew) keeps its message_id: the bound on ``event``
    limits that check to the partitions below it.
    """
    return conn.execute(sa.text(
        "DELETE FROM event_message m WHERE m.event_id < :below "
        "AND NOT EXISTS (SELECT 1 FROM event e "
        "WHERE e.id = m.event_id AND e.id < :below)"
    ), {"below": below}).rowcount

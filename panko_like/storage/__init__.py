"""Storage: driver loading, query filters and storage errors."""

import contextlib
import contextvars
import dataclasses
import datetime
import importlib.metadata
import os
import re
import threading
from typing import Any

import tenacity
from oslo_config import cfg
from oslo_log import log
from stevedore import driver as stevedore_driver

from panko_like.storage import models

LOG = log.getLogger(__name__)

NAMESPACE = "panko_like.storage"

#: The options of every driver, read here and by the commands; each
#: driver's own are declared in its modules (gathered by panko_like.opts).
OPTS = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="Storage URL: an SQLAlchemy URL (sqlite:///path, "
        "postgresql+psycopg://user:pw@host/db, "
        "mysql+pymysql://user:pw@host/db?charset=utf8mb4), a mongodb:// "
        "URI or log://. Required in a configuration file; only with no "
        "configuration file at all is the embedded SQLite database in "
        "data_dir used.",
    ),
    cfg.IntOpt(
        "max_retries",
        default=10,
        min=-1,
        help="How many times to try connecting to the storage at start "
        "before giving up; -1 retries forever.",
    ),
    cfg.IntOpt(
        "retry_interval",
        default=10,
        min=0,
        help="Seconds to wait between connection attempts.",
    ),
    cfg.IntOpt(
        "max_raw_depth",
        default=models.MAX_RAW_DEPTH,
        min=1,
        max=models.MAX_RAW_DEPTH_LIMIT,
        help="How deeply objects and arrays may nest in the raw payload "
        "of an event ({} is 1 deep, {\"a\": []} 2). Every driver refuses "
        "an event nested deeper as invalid, with the reason, and stores "
        "the other events of its batch.",
    ),
    cfg.IntOpt(
        "event_time_to_live",
        default=-1,
        min=-1,
        help="Seconds events are kept before the expirer deletes them; "
        "-1 (or 0) keeps them forever.",
    ),
    cfg.IntOpt(
        "events_delete_batch_size",
        default=0,
        min=0,
        help="How many expired events the expirer deletes per "
        "transaction; 0 uses a default of 10000.",
    ),
]

DEFAULT_OPTS = [
    cfg.StrOpt(
        "data_dir",
        default=os.path.join("~", ".local", "share", "panko_like"),
        help="Directory of the embedded SQLite database, used when the "
        "service runs with no configuration file at all.",
    ),
]

DEFAULT_DELETE_BATCH = 10000

#: Whether the reads of this context (a thread, a task: the API's
#: request) must see every write acknowledged so far, and so go to the
#: primary rather than a standby that may lag (see read_from_standby).
_PRIMARY_READS = contextvars.ContextVar("primary_reads", default=False)


def primary_reads_wanted() -> bool:
    """Whether this context's reads must go to the primary."""
    return _PRIMARY_READS.get()


def want_primary_reads(wanted: bool) -> None:
    """Send this context's reads to the primary, or not, from now on
    (the API sets it for each request it handles)."""
    _PRIMARY_READS.set(wanted)


@contextlib.contextmanager
def primary_reads():
    """Within the block, reads go to the primary: a caller reading
    what it has just written."""
    token = _PRIMARY_READS.set(True)
    try:
        yield
    finally:
        _PRIMARY_READS.reset(token)


def max_raw_depth(conf) -> int:
    """``[database] max_raw_depth``, or its default without ``conf``."""
    return models.MAX_RAW_DEPTH if conf is None \
        else conf.database.max_raw_depth


class StorageError(Exception):
    """Base of the storage errors."""

    #: Seconds a client should wait before trying again (the API's
    #: Retry-After), for the errors that may pass.
    retry_after = 5


class UnknownDriver(StorageError):
    """No driver is installed for a URL scheme."""


class InvalidMarker(StorageError):
    """The pagination marker names no stored (visible) event."""


class TooManyGroups(StorageError):
    """A statistics answer would hold more groups than allowed."""


class StorageUnavailable(StorageError):
    """The storage could not be reached within the configured retries."""


class StorageResourceError(StorageError):
    """The database is out of a resource (disk space, memory,
    connections): it is up, but cannot serve this now. Not an outage:
    it is not retried."""


class StorageMisconfigured(StorageError):
    """The database refused what the configuration gives (credentials,
    database name, host name): no retry can help."""


#: The trait filter operators, as Panko named them.
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge")
#: The value keys of a trait filter, one per trait type.
FILTER_TYPES = ("string", "integer", "float", "datetime")
SORT_KEYS = ("generated", "message_id")
DEFAULT_SORT = (("generated", "asc"), ("message_id", "asc"))


@dataclasses.dataclass
class TraitFilter:
    """``key op value`` on one trait; ``type`` is one of FILTER_TYPES."""

    key: str
    type: str
    value: Any
    op: str = "eq"

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")
        if self.type not in FILTER_TYPES:
            raise ValueError(f"unknown trait filter type {self.type!r}")
        try:
            self.value = models.convert_value(
                models.TYPE_BY_NAME[self.type], self.value
            )
        except models.InvalidEvent as exc:
            raise ValueError(exc.reason) from None
        if self.value is None:
            raise ValueError(f"trait filter on {self.key!r} has no value")

    @property
    def dtype(self) -> int:
        return models.TYPE_BY_NAME[self.type]


@dataclasses.dataclass
class EventFilter:
    """What ``get_events`` and ``delete_events`` select.

    :param start_timestamp: earliest ``generated``, inclusive.
    :param end_timestamp: latest ``generated``, inclusive.
    :param event_type: exact event type name.
    :param message_id: exact message id.
    :param traits_filter: :class:`TraitFilter` items (or dicts
        ``{key, op, <type>: value}`` as Panko took them), all of which
        must hold.
    :param admin_proj: only events with this ``project_id`` trait or
        with no ``project_id`` trait at all.
    :param stored_since: earliest time the event was stored, inclusive.
    :param stored_before: stored before this time (exclusive).
    """

    start_timestamp: datetime.datetime | None = None
    end_timestamp: datetime.datetime | None = None
    event_type: str | None = None
    message_id: str | None = None
    traits_filter: list = dataclasses.field(default_factory=list)
    admin_proj: str | None = None
    stored_since: datetime.datetime | None = None
    stored_before: datetime.datetime | None = None

    def __post_init__(self):
        self.traits_filter = [
            _as_trait_filter(item) for item in self.traits_filter or []
        ]


def _as_trait_filter(item) -> TraitFilter:
    if isinstance(item, TraitFilter):
        return item
    values = [(t, item[t]) for t in FILTER_TYPES if t in item]
    if len(values) != 1:
        raise ValueError(f"trait filter needs exactly one value: {item!r}")
    (type_name, value), = values
    return TraitFilter(item["key"], type_name, value, item.get("op", "eq"))


@dataclasses.dataclass(frozen=True)
class GroupCount:
    """One line of event_statistics: events of ``group`` generated in
    the period starting at ``start`` (None for no grouping)."""

    group: Any
    start: datetime.datetime | None
    count: int


_EPOCH = datetime.datetime(1970, 1, 1)


def sorted_groups(lines: list[GroupCount]) -> list[GroupCount]:
    """``lines`` in event_statistics' order: by group, None first, then
    by period."""
    return sorted(lines, key=lambda line: (
        line.group is not None, line.group or "", line.start or _EPOCH))


@dataclasses.dataclass
class Pagination:
    """Paging of ``get_events``.

    :param limit: at most this many events; None for all.
    :param marker: message_id of the last event of the previous page.
    :param sort: ``[(key, 'asc'|'desc')]`` over SORT_KEYS. The missing
        keys of (generated, message_id) are appended ascending, so the
        order is total and a marker never skips or repeats an event.
    """

    limit: int | None = None
    marker: str | None = None
    sort: list = dataclasses.field(
        default_factory=lambda: list(DEFAULT_SORT)
    )

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be a positive integer")
        sort = []
        for key, direction in self.sort or []:
            if key not in SORT_KEYS:
                raise ValueError(f"cannot sort on {key!r}")
            if direction not in ("asc", "desc"):
                raise ValueError(f"unknown sort direction {direction!r}")
            if key not in (k for k, _ in sort):
                sort.append((key, direction))
        for key, direction in DEFAULT_SORT:
            if key not in (k for k, _ in sort):
                sort.append((key, direction))
        self.sort = sort


_BARE_HOSTS = re.compile(r"^[\w.\-\[\]:]+(,[\w.\-\[\]:]+)*/[^/]")


#: The extra of the package that installs each scheme's client library.
EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql",
          "mongodb": "mongodb"}


def installed_drivers() -> list[str]:
    """The URL schemes an installed driver answers to (none is loaded)."""
    return sorted(set(importlib.metadata.entry_points(group=NAMESPACE).names))


def scheme_of(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql``.

    A bare host list (``pg1,pg2/events``) is PostgreSQL's.
    """
    if "://" not in url and _BARE_HOSTS.match(url):
        return "postgresql"
    scheme, sep, _ = url.partition("://")
    if not sep:
        scheme, sep, _ = url.partition(":")
    if not sep:
        raise UnknownDriver(f"not a storage URL: {url!r}")
    return scheme.split("+", 1)[0].lower()


def driver_class(url: str):
    """The driver class for ``url``'s scheme, loaded, not connected."""
    scheme = scheme_of(url)
    installed = installed_drivers()
    if scheme not in installed:
        raise UnknownDriver(
            f"no storage driver for scheme {scheme!r}; installed: "
            f"{', '.join(installed)}"
        )
    try:
        mgr = stevedore_driver.DriverManager(
            NAMESPACE, scheme, invoke_on_load=False,
            on_load_failure_callback=_raise_load_failure)
    except ImportError as exc:
        raise missing_package(scheme, exc) from None
    return mgr.driver


def get_connection(url: str, conf=None):
    """Load the driver for ``url``'s scheme and connect."""
    return driver_class(url)(url, conf)


def _raise_load_failure(_manager, _entry_point, exc):
    raise exc


def missing_package(scheme: str, exc: ImportError) -> UnknownDriver:
    """The error of a driver whose client library is not installed."""
    extra = EXTRAS.get(scheme)
    hint = (f": pip install 'panko_like[{extra}]'" if extra
            else "")
    return UnknownDriver(
        f"the {scheme} storage driver needs {exc.name or exc}, which is "
        f"not installed{hint}")


def default_url(conf) -> str:
    """The embedded SQLite database in ``data_dir``."""
    path = os.path.abspath(os.path.expanduser(conf.data_dir))
    # Events are the tenants' data: the directory is the service's own.
    os.makedirs(path, mode=0o700, exist_ok=True)
    return "sqlite:///" + os.path.join(path, "panko_like.sqlite")


#: Errors that no retry can fix, and a database out of resources (not
#: an outage): raised at once.
FINAL_ERRORS = (UnknownDriver, StorageMisconfigured, StorageResourceError,
                ImportError, ValueError)


def get_connection_from_config(conf, deadline=None):
    """Connect to ``[database] connection``, retrying as configured.

    :param deadline: at most this many seconds of retries (the API's
        ``storage_timeout``); None for the whole ``max_retries`` budget.
    """
    url = conf.database.connection or default_url(conf)
    retries = conf.database.max_retries
    stop = (
        tenacity.stop_never
        if retries < 0
        else tenacity.stop_after_attempt(retries + 1)
    )
    interval = conf.database.retry_interval
    if deadline is not None:
        stop = stop | tenacity.stop_after_delay(deadline)
        interval = min(interval, max(deadline / 4, 0.1))

    @tenacity.retry(
        wait=tenacity.wait_fixed(interval),
        stop=stop,
        retry=tenacity.retry_if_not_exception_type(FINAL_ERRORS),
        before_sleep=_log_retry,
        reraise=True,
    )
    def _connect():
        return get_connection(url, conf)

    try:
        return _connect()
    except FINAL_ERRORS:
        raise
    except StorageError:
        raise
    except Exception as exc:
        error = StorageUnavailable(one_line(exc))
        error.retry_after = max(1, conf.database.retry_interval)
        raise error from exc


class LazyConnection:
    """The connection of ``conf``, made on first use and shared by the
    threads of one process: code that starts (or forks) before the
    storage is needed connects in the process that uses it.

    :param deadline: as for :func:`get_connection_from_config`.
    """

    def __init__(self, conf, deadline=None):
        self.conf = conf
        self.deadline = deadline
        self._conn = None
        self._lock = threading.Lock()

    def get(self):
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = self._connect()
        return self._conn

    def _connect(self):
        return get_connection_from_config(self.conf, deadline=self.deadline)

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def log_rejected(logger, rejected) -> None:
    """Log what ``record_events`` did not store: a duplicate (an event
    sent again) at debug level, anything else as an error with its
    reason."""
    for item in rejected:
        if item.problem == models.Problem.DUPLICATE:
            logger.debug("Event %s already stored", item.message_id)
        else:
            logger.error("Event %s not stored (%s): %s", item.message_id,
                         item.problem, item.reason)


def one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its repr when it has no
    text: what a log line or a command's error says of it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else repr(exc)


def _log_retry(state):
    LOG.warning(
        "Storage not available (attempt %d): %s",
        state.attempt_number,
        state.outcome.exception(),
    )

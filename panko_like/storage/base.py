"""The storage driver interface.

Every driver subclasses :class:`Connection`, declares what it supports in
``CAPABILITIES`` (merged onto the defaults here) and implements the
methods below. A method a driver cannot serve raises
:class:`panko_like.NotImplementedError`, which the API answers with 501.

The rules that apply to every driver are applied here, once, to every
contract method a driver defines (see :func:`_resilient`): a storage
that cannot be reached is retried and then reported as
StorageUnavailable, and a batch of events is written with Python's
cyclic collector held off.
"""

import abc
import contextlib
import copy
import datetime
import functools
import gc
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import tenacity
from oslo_log import log

import panko_like
from panko_like import storage
from panko_like.storage import EventFilter, Pagination, models

LOG = log.getLogger(__name__)

#: What a driver offers, false unless it declares it: events:query:simple
#: is get_events, get_event_types, get_trait_types and get_traits;
#: events:delete is delete_events; events:update is update_traits;
#: events:stream is storage_now, get_events_stored_after and
#: get_stored_keys (GET /v2/events/stream).
BASE_CAPABILITIES: dict[str, Any] = {
    "events": {
        "query": {"simple": False, "count": False, "statistics": False},
        "delete": False,
        "update": False,
        "stream": False,
    },
}

#: storage:expiry is clear_expired_data, what the expirer calls.
BASE_STORAGE_CAPABILITIES: dict[str, Any] = {
    "storage": {"production_ready": False, "expiry": False},
}


#: The contract methods run under the resilience policy (see
#: _resilient), wherever a driver defines them.
RESILIENT_METHODS = (
    "upgrade", "schema_version", "clear", "record_events", "get_events",
    "get_event_types", "get_trait_types", "get_traits",
    "clear_expired_data", "delete_events", "count_events",
    "event_statistics",
    # Setting and removing traits by name is idempotent: a retry after
    # a lost connection whose first attempt committed changes nothing
    # more (but updated_at).
    "update_traits",
    "storage_now", "get_events_stored_after", "get_stored_keys",
)

#: The longest wait between two attempts of a call bounded by
#: ``retry_deadline`` (an API request), in seconds.
DEADLINE_WAIT_CAP = 0.5

#: Per thread: whether a call is already inside the resilience policy
#: (nested calls are not retried twice).
_policy = threading.local()

_pause_lock = threading.Lock()
_pauses = 0
_resume = False


@contextlib.contextmanager
def collector_paused():
    """Hold Python's cyclic garbage collector off while a batch of events
    is checked, encoded and written.

    A batch allocates hundreds of thousands of short-lived containers
    (traits, rows, tuples), none of them in a reference cycle: each is
    freed by its reference count. The collector would nonetheless start
    every 700 allocations, and now and then walk every live object of
    the process, which costs a writer a large share of its CPU. Nested
    or concurrent pauses
    (threads) share one: the collector is enabled again when the last
    ends, and only if it was enabled when the first began.
    """
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def pauses_collector(func):
    """Run ``func`` under :func:`collector_paused`."""

    @functools.wraps(func)
    def paused(*args, **kwargs):
        with collector_paused():
            return func(*args, **kwargs)

    return paused


def duplicate(message_id: str, where: str) -> models.Rejected:
    """The rejection of an event whose message_id is stored already, or
    repeated in its batch (``where`` says which)."""
    return models.Rejected(
        message_id,
        models.Problem.DUPLICATE,
        f"an event with this message_id is {where}",
    )


def checked_batch(events, prepare, max_raw_depth=models.MAX_RAW_DEPTH):
    """Check a batch before a driver writes it.

    Returns the rejections of its invalid events and of those whose
    message_id it repeats, and ``prepare(event, raw)`` of each of the
    others, in order (``raw``: its payload as JSON text, or None).
    ``prepare`` may raise InvalidEvent as well. ``max_raw_depth``: see
    :attr:`Connection.max_raw_depth`.
    """
    rejected = []
    accepted = {}
    for event in events:
        message_id = getattr(event, "message_id", None)
        try:
            event.validate()
            item = prepare(event, event.dumped_raw(max_raw_depth))
        except models.InvalidEvent as exc:
            rejected.append(
                models.Rejected(message_id, exc.problem, exc.reason))
            continue
        if event.message_id in accepted:
            rejected.append(duplicate(event.message_id, "in this batch"))
            continue
        accepted[event.message_id] = item
    return rejected, list(accepted.values())


def merge_dicts(base: dict, update: dict) -> dict:
    """Return a deep copy of ``base`` updated recursively by ``update``."""
    result = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_dicts(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def flatten(nested: dict, prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': True}}`` -> ``{'a:b': True}``."""
    flat = {}
    for key, value in nested.items():
        name = f"{prefix}:{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


_END = object()


def _resilient(name, method):
    """``method`` run under the driver's resilience policy
    (Connection._reconnecting).

    ``record_events`` takes its events as a list (a retry must see them
    all again) and runs with the collector held off, each attempt but
    not the waits between them. ``get_events`` is lazy: its first event
    is fetched under the policy, so that a storage lost before the
    answer starts is retried or reported like any other call; the
    driver fetches the rest through ``_reconnecting`` as it streams.
    """
    if name == "record_events":
        paused = pauses_collector(method)

        @functools.wraps(method)
        def record_events(self, events, *args, **kwargs):
            if not isinstance(events, list | tuple):
                events = list(events)
            try:
                rejected = self._reconnecting(
                    paused, self, events, *args, **kwargs)
            except storage.StorageResourceError as exc:
                self._write_failure = str(exc)
                raise
            self._write_failure = None
            return rejected
        wrapper = record_events
    elif name == "get_events":

        @functools.wraps(method)
        def get_events(self, *args, **kwargs):
            def first():
                stream = iter(method(self, *args, **kwargs))
                return next(stream, _END), stream
            head, stream = self._reconnecting(first)
            if head is _END:
                return iter(())
            return itertools.chain((head,), stream)
        wrapper = get_events
    else:

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            return self._reconnecting(method, self, *args, **kwargs)
    wrapper.resilient = True
    return wrapper


class Connection(abc.ABC):
    """Base class of every storage driver.

    :param url: the connection URL, already selected by scheme.
    :param conf: the service's ``oslo_config.cfg.ConfigOpts``.
    """

    CAPABILITIES: dict[str, Any] = {}
    STORAGE_CAPABILITIES: dict[str, Any] = {}

    def __init__(self, url: str, conf=None):
        self.url = url
        self.conf = conf

    @property
    def max_raw_depth(self) -> int:
        """How deeply a raw payload may nest: deeper events are refused
        as invalid by ``record_events`` ([database] max_raw_depth)."""
        return storage.max_raw_depth(self.conf)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in RESILIENT_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "resilient", False):
                setattr(cls, name, _resilient(name, method))

    @classmethod
    def get_capabilities(cls) -> dict[str, Any]:
        """The API capabilities of this driver, nested."""
        return merge_dicts(BASE_CAPABILITIES, cls.CAPABILITIES)

    @classmethod
    def get_storage_capabilities(cls) -> dict[str, Any]:
        """The storage capabilities of this driver, nested."""
        return merge_dicts(
            BASE_STORAGE_CAPABILITIES, cls.STORAGE_CAPABILITIES
        )

    def _not_implemented(self, feature: str):
        return panko_like.NotImplementedError(
            f"{feature} is not implemented by the "
            f"{type(self).__module__} driver"
        )

    #: What the storage is called in logs and errors.
    STORAGE_NAME = "database"
    #: Set by the API: at most this many seconds of retries per call
    #: (``[api] storage_timeout``); None for ``[database] max_retries``.
    retry_deadline: float | None = None
    #: Why the last write failed for want of a resource, until a write
    #: succeeds (see health).
    _write_failure: str | None = None

    def _is_unreachable(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the storage cannot be reached now."""
        return False

    def _resource_problem(self, exc: BaseException) -> str | None:
        """What the database ran out of, when ``exc`` says so (disk
        space, memory, connections); None otherwise."""
        return None

    def _misconfiguration(self, exc: BaseException) -> str | None:
        """What of the configuration the database refused, when ``exc``
        says so (credentials, database or host name); None otherwise."""
        return None

    def _describe(self, exc: BaseException) -> str:
        """``exc`` in one line, safe to log (no credentials)."""
        return storage.one_line(exc)

    def _final(self, exc: BaseException) -> storage.StorageError | None:
        """The storage error that ``exc`` is when no retry can help."""
        reason = self._misconfiguration(exc)
        if reason is not None:
            return storage.StorageMisconfigured(
                f"{self.STORAGE_NAME} refused the configuration: {reason}")
        reason = self._resource_problem(exc)
        if reason is not None:
            return storage.StorageResourceError(
                f"{self.STORAGE_NAME} is out of resources: {reason}")
        return None

    def _check_reachable(self, ping: Callable, close: Callable) -> None:
        """Run ``ping`` at construction, so that a driver fails inside
        get_connection_from_config's retries rather than on the first
        request, and at once (StorageResourceError or
        StorageMisconfigured, after ``close``) when no retry can help."""
        try:
            ping()
        except Exception as exc:
            close()
            final = self._final(exc)
            if final is not None:
                raise final from None
            raise

    def _retrying(self, exc: BaseException) -> bool:
        return self._final(exc) is None and self._is_unreachable(exc)

    def _reconnecting(self, func: Callable, *args, **kwargs):
        """Call ``func``, retrying while the storage is unreachable.

        Up to ``[database] max_retries`` retries (or ``retry_deadline``
        seconds), with a backoff capped at ``retry_interval``; then
        :class:`storage.StorageUnavailable`, which the API answers with
        503 so a sender knows to resend. A database out of a resource
        or refusing the configuration is reported at once
        (StorageResourceError, StorageMisconfigured). ``func`` must be
        safe to run again: writes are, since an event whose first
        attempt was stored is found as a duplicate. Inside another call
        of the policy, ``func`` is just called: the outer one retries.
        """
        if getattr(_policy, "active", False):
            return func(*args, **kwargs)
        started = time.monotonic()
        _policy.active = True
        try:
            # Nearly every call succeeds at once, and then costs no more
            # than the call itself.
            return func(*args, **kwargs)
        except Exception as exc:
            final = self._final(exc)
            if final is not None:
                raise final from exc
            if not self._is_unreachable(exc):
                raise
            failure = exc
        finally:
            _policy.active = False
        db = self.conf.database if self.conf is not None else None
        retries = db.max_retries if db is not None else 10
        interval = db.retry_interval if db is not None else 10
        retries = retries if retries >= 0 else 10
        cap = max(interval, 0.2)
        stop = tenacity.stop_after_attempt(retries)
        # The deadline counts from the call, its first attempt included
        # (which may have waited for a host to answer).
        left = None
        wait = tenacity.wait_exponential(multiplier=0.4, max=cap)
        if self.retry_deadline is not None:
            end = started + self.retry_deadline
            left = end - time.monotonic() - 0.2
            stop = stop | tenacity.stop_after_delay(max(left, 0))
            # A client waits on this call: once a standby is promoted
            # (a second or so), it is found within DEADLINE_WAIT_CAP,
            # not up to a whole doubled wait later; two attempts a
            # second per waiting call at most.
            backoff = tenacity.wait_exponential(
                multiplier=0.4, max=min(cap, DEADLINE_WAIT_CAP))

            def wait(state):
                # No wait past the deadline: the last attempt is made at
                # it, not up to one whole backoff after it.
                return max(0, min(backoff(state), end - time.monotonic()))
        try:
            if not retries or (left is not None and left <= 0):
                raise failure
            self._log_reconnect(1, failure)
            # Waits of 0.2, 0.4, 0.8... seconds, at most ``cap`` (never
            # below 0.2): the first here, the others between tenacity's
            # attempts.
            time.sleep(0.2)
            retrying = tenacity.Retrying(
                retry=tenacity.retry_if_exception(self._retrying),
                stop=stop,
                wait=wait,
                before_sleep=lambda state: self._log_reconnect(
                    state.attempt_number + 1, state.outcome.exception()),
                reraise=True,
            )
            return retrying(self._guarded, func, *args, **kwargs)
        except Exception as exc:
            final = self._final(exc)
            if final is not None:
                raise final from exc
            if not self._is_unreachable(exc):
                raise
            error = storage.StorageUnavailable(
                f"{self.STORAGE_NAME} unreachable: {self._describe(exc)}")
            error.retry_after = max(1, round(cap))
            raise error from exc

    def health(self) -> None:
        """Raise a :class:`storage.StorageError` when the storage cannot
        serve now: unreachable, or its last write failed for want of a
        resource (until a write succeeds). A driver that answers no
        query is healthy once loaded."""
        if self._write_failure is not None:
            raise storage.StorageResourceError(self._write_failure)
        try:
            self.get_event_types()
        except panko_like.NotImplementedError:
            pass

    @staticmethod
    def _guarded(func, *args, **kwargs):
        """``func`` called inside the policy (see _reconnecting)."""
        _policy.active = True
        try:
            return func(*args, **kwargs)
        finally:
            _policy.active = False

    def _log_reconnect(self, attempt: int, exc: BaseException) -> None:
        LOG.warning(
            "%s unreachable (attempt %d), reconnecting: %s",
            self.STORAGE_NAME, attempt, self._describe(exc),
        )

    def upgrade(self) -> str:
        """Create or migrate the schema to the newest version.

        Idempotent. Returns a one-line account of what was done.
        """
        raise self._not_implemented("upgrade")

    def schema_version(self) -> str | None:
        """Return the version of the stored schema (an alembic revision,
        a MongoDB layout), or None when none is stored yet."""
        raise self._not_implemented("schema_version")

    def clear(self) -> None:
        """Drop all data (and schema where that applies). For tests."""
        raise self._not_implemented("clear")

    def close(self) -> None:  # noqa: B027 - optional hook, no-op default
        """Release connections held by the driver. Safe to call twice."""

    @abc.abstractmethod
    def record_events(
        self, events: Iterable[models.Event]
    ) -> list[models.Rejected]:
        """Store a batch of events, each one all-or-nothing.

        A ``message_id`` that is already stored (or repeated within the
        batch) is a duplicate: skipped and reported, never an error.

        :returns: one :class:`models.Rejected` per event not stored,
                  empty when every event was stored.
        """

    def get_events(
        self,
        event_filter: EventFilter,
        pagination: Pagination | None = None,
    ) -> Iterator[models.Event]:
        """Yield the events matching ``event_filter``, in sort order.

        :raises panko_like.storage.InvalidMarker: unknown marker.
        """
        raise self._not_implemented("get_events")

    def get_event_types(self) -> list[str]:
        """Return the stored event type names, sorted."""
        raise self._not_implemented("get_event_types")

    def get_trait_types(self, event_type: str) -> list[dict[str, Any]]:
        """Return ``{'name', 'data_type'}`` per trait seen on the type."""
        raise self._not_implemented("get_trait_types")

    def get_traits(
        self, event_type: str, trait_name: str | None = None
    ) -> list[models.Trait]:
        """Return the trait instances of events of ``event_type``.

        Only those named ``trait_name`` when it is given.
        """
        raise self._not_implemented("get_traits")

    def clear_expired_data(self, ttl: int, max_count: int) -> int:
        """Delete up to ``max_count`` events older than ``ttl`` seconds.

        Also removes event types left without events.

        :returns: how many events were deleted.
        """
        raise self._not_implemented("clear_expired_data")

    def delete_events(self, event_filter: EventFilter,
                      max_count: int | None = None) -> int:
        """Delete what ``event_filter`` matches, at most ``max_count``
        events (all when None; a driver may take fewer) in one
        transaction; return how many.

        A caller deleting many events calls it again until it returns
        0, so that no transaction grows with the store.
        """
        raise self._not_implemented("delete_events")

    def count_events(self, event_filter: EventFilter) -> int:
        """Return how many events ``event_filter`` matches."""
        raise self._not_implemented("count_events")

    def event_statistics(
        self, event_filter: EventFilter, group_by: str | None = None,
        period: int | None = None, max_groups: int | None = None,
    ) -> list[storage.GroupCount]:
        """Count the events ``event_filter`` matches per group and per
        period of ``generated``.

        :param group_by: ``event_type``, or the name of a text trait
            (``project_id`` among them): events without it count under
            None. None: one group, None.
        :param period: seconds per time bucket, counted from the epoch;
            None: one bucket, None.
        :param max_groups: at most this many (group, bucket) pairs are
            returned; one more raises TooManyGroups.
        :returns: GroupCount items sorted by group (None first) then
            bucket start, without empty ones.
        :raises panko_like.storage.TooManyGroups: more than max_groups.
        """
        raise self._not_implemented("event_statistics")

    def update_traits(
        self, event_filter: EventFilter, set_traits: list[models.Trait],
        remove: list[str], max_traits: int | None = None,
    ) -> models.Event | None:
        """Set and remove traits of the one event ``event_filter`` finds
        (its ``message_id`` is required), in one atomic change.

        Each trait of ``set_traits`` replaces every trait of its name
        (a name may be given once per type, as in record_events); each
        name of ``remove`` takes that name's traits away, and one the
        event lacks is no error. A name is never both set and removed.
        The message_id, event type, generated time and raw payload never
        change; ``updated_at`` becomes the storage's clock. Concurrent
        updates of one event are serialized: none is lost. Drivers
        apply the rules of :mod:`panko_like.storage.trait_updates`.

        :param max_traits: the event may have at most this many traits
            afterwards (None: no limit).
        :returns: the event as ``get_events`` reads it now, or None when
            the filter finds no event (nothing is changed).
        :raises panko_like.storage.models.InvalidEvent: invalid
            arguments, or too many traits afterwards; nothing is
            changed.
        """
        raise self._not_implemented("update_traits")

    def storage_now(self) -> datetime.datetime:
        """Return the time of the clock that stamps ``stored_at``, naive
        UTC: the database server's where it stamps the events, so that
        every API node reads the same clock."""
        raise self._not_implemented("storage_now")

    def get_events_stored_after(
        self, event_filter: EventFilter,
        after: tuple[datetime.datetime, str] | None,
        until: datetime.datetime, limit: int | None,
    ) -> list[models.Event]:
        """Return the events ``event_filter`` matches, in stored order
        ``(stored_at, message_id)``, strictly after the position
        ``after`` (from the first when None) and stored at ``until`` or
        before, at most ``limit`` of them (all when None)."""
        raise self._not_implemented("get_events_stored_after")

    def get_stored_keys(
        self, event_filter: EventFilter, since: datetime.datetime,
        until: datetime.datetime, limit: int | None = None,
    ) -> list[tuple[datetime.datetime, str]]:
        """Return ``(stored_at, message_id)`` of the events
        ``event_filter`` matches stored in ``[since, until]``, in stored
        order, at most ``limit`` (all when None)."""
        raise self._not_implemented("get_stored_keys")

"""The live event stream's poller: one per application and process.

Every stream of a worker process shares one :class:`Hub`. Its thread,
running while at least one stream is open, reads the storage's clock
every ``[api] stream_poll_interval`` seconds and publishes a *horizon*:
that time less ``[api] stream_settle_delay``. A stream delivers only
events stored at the horizon or before, so that the write transactions
stamped before it have committed by the time it is read (a stamp is
taken when a row is written; its commit comes later).

For a transaction slower than that, the hub also reads the message ids
stored in the last ``[api] stream_lookback`` seconds before the horizon
(one query for all streams, index only) and publishes those it had not
seen below the previous horizon as *late*: each stream looks them up
through its own filter and delivers those it matches and has not
delivered yet.

Each stream then queries the storage itself, through the same filters
and scoping as a listing: the storage decides what a caller sees.
"""

import collections
import datetime
import threading
import time
import weakref

from oslo_log import log

from panko_like import storage

LOG = log.getLogger(__name__)

#: The stream's path (the worker gives it threads of its own).
PATH = "/v2/events/stream"

#: Every hub of the process, stopped together on shutdown.
_HUBS = weakref.WeakSet()
_HUBS_LOCK = threading.Lock()
#: Ticks whose late ids are kept for streams that fall behind.
KEPT_TICKS = 64


class Full(Exception):
    """``[api] max_stream_subscribers`` streams are open already."""


class Stopping(Exception):
    """The process is shutting down."""


class Tick:
    """What one poll found: ``horizon``, whether anything was stored
    since the previous one (``fresh``; None when not known), and the
    ``late`` ``(stored_at, message_id)`` pairs."""

    def __init__(self, number, horizon, fresh, late):
        self.number = number
        self.horizon = horizon
        self.fresh = fresh
        self.late = late


class Hub:
    def __init__(self, conf, holder):
        self.api = conf.api
        self.holder = holder
        self._cond = threading.Condition()
        self._subscribers = 0
        self._thread = None
        self._ticks = collections.deque(maxlen=KEPT_TICKS)
        self._seen = {}
        self.stopping = False

    @property
    def lookback(self):
        return datetime.timedelta(seconds=self.api.stream_lookback)

    def join(self):
        """Count one more stream; raise Full or Stopping."""
        with self._cond:
            if self.stopping:
                raise Stopping()
            if self._subscribers >= self.api.max_stream_subscribers:
                raise Full()
            self._subscribers += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="panko-like-stream-poller",
                    daemon=True)
                self._thread.start()

    def leave(self):
        with self._cond:
            self._subscribers -= 1

    def latest(self, timeout):
        """The newest Tick, waiting up to ``timeout`` for a first one."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._ticks or self.stopping, timeout)
            return self._ticks[-1] if self._ticks else None

    def wait(self, after, timeout):
        """The ticks newer than number ``after`` (an empty list after
        ``timeout`` seconds without one, or when stopping)."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.stopping or (
                    self._ticks and self._ticks[-1].number > after),
                timeout)
            if self.stopping:
                return []
            return [tick for tick in self._ticks if tick.number > after]

    def stop(self):
        with self._cond:
            self.stopping = True
            self._cond.notify_all()

    def _run(self):
        number, failing = 0, False
        while True:
            with self._cond:
                if self.stopping or self._subscribers <= 0:
                    self._thread = None
                    self._ticks.clear()
                    self._seen = {}
                    return
            started = time.monotonic()
            try:
                tick = self._poll(number + 1)
            except Exception as exc:  # the storage is out: try again
                if not failing:
                    LOG.warning("The event stream could not poll the "
                                "storage: %s", storage.one_line(exc))
                failing, tick = True, None
            else:
                failing = False
            with self._cond:
                if tick is not None:
                    number = tick.number
                    self._ticks.append(tick)
                    self._cond.notify_all()
                self._cond.wait_for(
                    lambda: self.stopping,
                    max(0.0, self.api.stream_poll_interval
                        - (time.monotonic() - started)))

    def _poll(self, number):
        conn = self.holder.get()
        horizon = conn.storage_now() - datetime.timedelta(
            seconds=self.api.stream_settle_delay)
        previous = self._ticks[-1].horizon if self._ticks else None
        if not self.api.stream_lookback:
            return Tick(number, horizon, None, [])
        since = horizon - self.lookback
        if previous is not None:
            since = min(since, previous)
        keys = conn.get_stored_keys(storage.EventFilter(), since, horizon)
        late, fresh = [], False
        if previous is not None:
            for stored_at, message_id in keys:
                if stored_at > previous:
                    fresh = True
                elif message_id not in self._seen:
                    late.append((stored_at, message_id))
        else:
            fresh = True
        if late:
            LOG.debug("%d events committed later than [api] "
                      "stream_settle_delay after they were stamped",
                      len(late))
        oldest = horizon - self.lookback
        self._seen = {message_id: stored_at for stored_at, message_id in keys
                      if stored_at >= oldest}
        return Tick(number, horizon, fresh, late)


_HOLDER_LOCK = threading.Lock()


def hub_of(conf, holder):
    """The Hub of the application whose storage ``holder`` is."""
    with _HOLDER_LOCK:
        hub = getattr(holder, "stream_hub", None)
        if hub is None:
            hub = holder.stream_hub = Hub(conf, holder)
            with _HUBS_LOCK:
                _HUBS.add(hub)
        return hub


def stop_all():
    """End every stream of the process (the worker is shutting down):
    clients reconnect elsewhere with their Last-Event-ID."""
    with _HUBS_LOCK:
        hubs = list(_HUBS)
    for hub in hubs:
        hub.stop()

"""``GET /v2/events/stream``: new events as Server-Sent Events.

One SSE message per stored event that matches the filters and that the
caller may see (the filters and scoping of ``GET /v2/events``), in
stored order ``(stored_at, message_id)``. Each message's ``id`` is the
stream's position after it, opaque; a client that reconnects with it as
``Last-Event-ID`` (as browsers' EventSource do) resumes strictly after
it. See :mod:`panko_like.api.stream_hub` for how new events are found.

A stream ends after ``timeout`` seconds (the parameter, at most and by
default ``[api] stream_max_duration``), when the worker shuts down, or
when the client goes; the client reconnects with its last id. A
comment line is sent every ``[api] stream_keepalive_interval`` seconds
without events, so that proxies keep the connection open.
"""

import base64
import binascii
import datetime
import time
import urllib.parse

import webob
from oslo_log import log

import panko_like
from panko_like import storage
from panko_like.api import errors, rbac, stream_hub
from panko_like.api.controllers.v2 import events, query

LOG = log.getLogger(__name__)

CONTENT_TYPE = "text/event-stream"
#: Events read per query; a stream behind by more reads again at once.
PAGE = 500
#: Milliseconds a client waits before reconnecting (SSE ``retry``).
RETRY_MS = 1000
_EPOCH = datetime.datetime(1970, 1, 1)


class StreamsFull(errors.APIError):
    status = 503
    faultcode = "Server"


def encode_cursor(stored_at, message_id):
    micros = (stored_at - _EPOCH) // datetime.timedelta(microseconds=1)
    text = f"{micros}.{message_id}".encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


def decode_cursor(value):
    """``(stored_at, message_id)`` of a Last-Event-ID; 400 if malformed."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        micros, sep, message_id = raw.decode("utf-8").partition(".")
        if not sep or not micros.isdigit():
            raise ValueError(value)
        return (_EPOCH + datetime.timedelta(microseconds=int(micros)),
                message_id)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise errors.BadRequest(
            "Malformed Last-Event-ID: give the id of a message of this "
            "stream.")


def _arguments(request):
    """The filters (as query.list_arguments reads them) and the
    timeout; limit, marker and sort have no meaning here."""
    pairs = urllib.parse.parse_qsl(request.query_string,
                                   keep_blank_values=True)
    timeout = [value for name, value in pairs if name == "timeout"]
    rest = [(name, value) for name, value in pairs if name != "timeout"]
    refused = {name for name, _ in rest
               if name in ("limit", "marker", "sort")}
    if refused:
        raise query.unknown_arguments(refused)
    environ = dict(request.environ,
                   QUERY_STRING=urllib.parse.urlencode(rest))
    filtered = webob.Request(environ)
    filtered.conf = request.conf
    args = query.list_arguments(filtered)
    for name in ("limit", "marker", "sort"):
        if args[name]:
            raise query.unknown_arguments({name})
    return args["q"], _timeout(timeout, request.conf.api)


def _timeout(values, api):
    if len(values) > 1:
        raise errors.BadRequest("timeout may be given only once.")
    if not values:
        return api.stream_max_duration
    try:
        seconds = float(values[0])
    except ValueError:
        seconds = -1
    if not seconds > 0:
        raise errors.invalid_input(
            "timeout", values[0], "expected a positive number of seconds.")
    return min(seconds, api.stream_max_duration)


def index(request, response):
    identity = rbac.enforce(request, "telemetry:events:stream")
    filters, timeout = _arguments(request)
    admin = rbac.is_admin(request, identity)
    event_filter = query.event_filter(filters, identity, admin)
    last_id = request.headers.get("Last-Event-ID")
    start = decode_cursor(last_id) if last_id else None
    conn = request.storage_holder.get()
    if not conn.get_capabilities()["events"].get("stream"):
        raise panko_like.NotImplementedError(
            f"events:stream is not implemented by the "
            f"{type(conn).__module__} driver")
    if request.method == "HEAD":
        # The headers a stream would have, and no stream (a comment as
        # body, which HEAD does not send: pecan makes an empty one 204).
        return _answer([b": HEAD\n\n"])
    hub = stream_hub.hub_of(request.conf, request.storage_holder)
    try:
        hub.join()
    except (stream_hub.Full, stream_hub.Stopping):
        raise StreamsFull(
            "Too many event streams are open on this API worker ([api] "
            "max_stream_subscribers); try again later.",
            headers={"Retry-After": "1"})
    try:
        # The poller's first look takes a storage call at most.
        first = hub.latest(request.conf.api.storage_timeout + 1)
        if first is None:
            raise storage.StorageUnavailable(
                "The storage did not answer the event stream's poller.")
    except BaseException:
        hub.leave()
        raise
    stream = _Stream(request, conn, hub, event_filter, start, first,
                     timeout)
    return _answer(stream.run())


def _answer(app_iter):
    answer = webob.Response(
        app_iter=app_iter, content_type=CONTENT_TYPE, charset=None)
    answer.headers["Cache-Control"] = "no-cache"
    # nginx would otherwise hold the messages back in its buffer.
    answer.headers["X-Accel-Buffering"] = "no"
    return answer


class _Stream:
    """One stream's state; :meth:`run` is the answer's body, run by
    the server in a thread of its own."""

    def __init__(self, request, conn, hub, event_filter, start, first,
                 timeout):
        self.conn = conn
        self.hub = hub
        self.filter = event_filter
        api = request.conf.api
        self.keepalive = api.stream_keepalive_interval
        self.lookback = datetime.timedelta(seconds=api.stream_lookback)
        self.disconnected = request.environ.get(
            "waitress.client_disconnected", lambda: False)
        self.deadline = time.monotonic() + timeout
        self.tick = first
        self.cursor = start or (first.horizon, "")
        #: Late events are delivered from the start of the stream on.
        self.floor = self.cursor[0]
        #: message_id -> stored_at of what was delivered lately.
        self.known = {}

    def run(self):
        """The SSE messages. A generator, so that pecan peeks at its
        first piece instead of reading it whole; dropped by a server
        whose client went, it ends on its next ``yield``."""
        try:
            yield f"retry: {RETRY_MS}\n: stream opened\n\n".encode()
            yield from self._messages()
        except storage.StorageError as exc:
            # The answer has begun: the stream ends, and the client
            # resumes from its last id once the storage is back.
            LOG.warning("Event stream ended: %s", storage.one_line(exc))
        finally:
            self.hub.leave()

    def _messages(self):
        ticks = [self.tick]
        behind = True  # the first read catches up from the start
        quiet_since = time.monotonic()
        while not (self.hub.stopping or self.disconnected()):
            left = self.deadline - time.monotonic()
            if left <= 0:
                return
            if not (ticks or behind):
                # Woken at least every second to look at the client.
                ticks = self.hub.wait(self.tick.number,
                                      min(left, self.keepalive, 1.0))
            if ticks or behind:
                # The hub keeps the late ids of its last ticks only: a
                # stream that fell further behind looks again itself.
                missed = bool(ticks) and ticks[0].number > self.tick.number + 1
                if ticks:
                    self.tick = ticks[-1]
                body, behind = self._read(ticks, behind, missed)
                ticks = []
                if body:
                    quiet_since = time.monotonic()
                    yield body
                    continue
            # Quiet, whether or not the poller ticked meanwhile.
            if time.monotonic() - quiet_since >= self.keepalive:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"

    def _read(self, ticks, behind, missed=False):
        """SSE messages of what the ticks bring (and, when ticks were
        ``missed``, of every event stored within the lookback); whether
        more is left."""
        horizon = self.tick.horizon
        out = []
        page = []
        if behind or any(tick.fresh is not False for tick in ticks):
            page = self.conn.get_events_stored_after(
                self.filter, self.cursor, horizon, PAGE)
            for event in page:
                self.cursor = (event.stored_at, event.message_id)
                if event.message_id in self.known:
                    continue  # delivered already, as a late one
                self.known[event.message_id] = event.stored_at
                out.append(self._message(event))
        late = [pair for tick in ticks for pair in tick.late]
        if missed:
            late = self.conn.get_stored_keys(
                self.filter, max(self.floor, horizon - self.lookback),
                horizon)
        for stored_at, message_id in late:
            if message_id in self.known or stored_at < self.floor:
                continue
            self.known[message_id] = stored_at
            found = self._late(message_id)
            if found is not None:
                out.append(self._message(found))
        oldest = horizon - self.lookback
        self.known = {key: at for key, at in self.known.items()
                      if at >= oldest}
        return b"".join(out), len(page) == PAGE

    def _late(self, message_id):
        one = storage.EventFilter(**{
            **vars(self.filter), "message_id": message_id})
        found = list(self.conn.get_events(one, storage.Pagination(limit=1)))
        return found[0] if found else None

    def _message(self, event):
        # The id is the stream's position, also after a late event (whose
        # own is older): a client resuming from it skips nothing it had.
        return b"id: %s\ndata: %s\n\n" % (
            encode_cursor(*self.cursor).encode("ascii"),
            events.encode_event(event))

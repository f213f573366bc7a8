"""The API worker: gunicorn's processes, waitress's HTTP side.

gunicorn's arbiter (:mod:`panko_like.api.server`) forks the workers and
replaces those that die or hang; each worker runs :class:`Worker`. Its
main thread is waitress's event loop: it accepts connections and reads
whole requests, headers and body, without blocking, and only hands a
complete request to one of ``[api] threads`` threads that run the
application. A client that sends half a request, or sends it slowly,
holds a connection, closed after ``[api] request_read_timeout``, never
a thread. ``/healthcheck`` has a thread of its own, so it is answered
while every other thread waits on the storage; so has each stream of
``GET /v2/events/stream`` (at most ``[api] max_stream_subscribers``),
which is not counted as a request in progress by the heartbeat below.

What gunicorn's sync worker did is kept. The heartbeat the arbiter
watches is the start of the oldest request in progress, so a worker
serving a request for longer than ``[api] worker_timeout`` is killed and
replaced (the clients still waiting for an answer get a JSON 503). On
SIGTERM the worker stops accepting, and the requests in flight, and
those being read, get ``[api] graceful_shutdown_timeout`` to finish.
"""

import os
import socket
import threading
import time

from gunicorn.workers import base
from oslo_config import cfg
from oslo_log import log
from waitress import adjustments, utilities, wasyncore
from waitress import channel as waitress_channel
from waitress import server as waitress_server
from waitress import task as waitress_task

from panko_like.api import errors, stream_hub

LOG = log.getLogger(__name__)

OPTS = [
    cfg.IntOpt(
        "threads",
        default=1,
        min=1,
        max=256,
        help="Threads of each API worker process that run requests, "
        "sharing the process's storage connection pool. Requests are "
        "read in full before a thread takes them, so slow clients hold "
        "no thread. /healthcheck has one more thread of its own. One "
        "thread per process costs the least CPU per request (threads "
        "of one process share one interpreter lock); more help when "
        "requests mostly wait for a distant database.",
    ),
    cfg.IntOpt(
        "request_read_timeout",
        default=30,
        min=1,
        max=3600,
        help="Seconds a client has to send a whole request, headers and "
        "body, counted from its first byte; and seconds a connection may "
        "stay open without sending anything (a new connection, or one "
        "kept alive after an answer). Such connections are then closed.",
    ),
]

#: The path served by the worker's health thread.
HEALTH_PATH = "/healthcheck"
#: The path served by the worker's stream threads.
STREAM_PATH = stream_hub.PATH
#: Seconds between two looks for connections past their read timeout.
CLEANUP_INTERVAL = 1
#: Seconds one turn of the event loop waits for the sockets at most.
LOOP_TIMEOUT = 0.5
#: Bytes read from a socket at once.
RECV_BYTES = 65536
#: Bytes of a request body kept in memory; more goes to a temporary file.
INBUF_OVERFLOW = 4 * 1024 * 1024
#: Bytes of answer not yet sent to a client that a thread may have
#: written before it waits for the client to read.
OUTBUF_HIGH_WATERMARK = 2 * 1024 * 1024
#: Seconds between two heartbeats at most (the arbiter's unit is 1 s).
HEARTBEAT_INTERVAL = 0.5
#: Reads of a closing connection's pending input, at most.
LINGER_READS = 64


class _ErrorTask(waitress_task.ErrorTask):
    """waitress's own answers (a request it cannot parse, headers or a
    body over the limits) in the API's JSON error shape."""

    def execute(self):
        error = self.request.error
        if isinstance(error, utilities.RequestEntityTooLarge):
            message = (
                "The request body is larger than the limit of "
                f"{self.channel.adj.max_request_body_size} bytes "
                "([api] max_request_body_size)."
            )
        else:
            message = f"{error.reason}: {error.body}"
        body = errors.error_json(error.code, message)
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _WSGITask(waitress_task.WSGITask):
    """A request run by the application, known to the worker while it
    runs (for the heartbeat, and to answer it if the worker is killed).
    """

    def service(self):
        if _is_stream(self.request):
            # A stream runs up to [api] stream_max_duration: it is no
            # hung request, and holds none of the other threads.
            self.channel.streaming = True
            try:
                return super().service()
            finally:
                self.channel.streaming = False
        in_flight = self.channel.server.in_flight
        in_flight.begin(self)
        try:
            super().service()
        finally:
            in_flight.end(self)


def _is_stream(request):
    return not request.error and request.path.rstrip("/") == STREAM_PATH


class _Channel(waitress_channel.HTTPChannel):
    """A connection that remembers when its current request began."""

    task_class = _WSGITask
    error_task_class = _ErrorTask
    request_began = 0.0
    #: Whether a stream is being answered: the connection is then read
    #: meanwhile, so that a client that goes is noticed (the stream
    #: looks at waitress.client_disconnected) rather than kept until
    #: the stream ends.
    streaming = False

    def readable(self):
        if self.streaming:
            return not (self.will_close or self.close_when_flushed)
        return super().readable()

    def received(self, data):
        if self.request is None and data:
            self.request_began = time.time()
        return super().received(data)

    def reading_since(self):
        """When the request being read began, or else when the
        connection last did anything."""
        if self.request is not None:
            return self.request_began
        return self.last_activity

    def handle_close(self):
        # Read what the client has already sent (the rest of a refused
        # request) before closing: closing with unread bytes makes the
        # kernel reset the connection, and a reset client may never
        # read its answer.
        try:
            self.socket.shutdown(socket.SHUT_WR)
            for _ in range(LINGER_READS):
                if not self.socket.recv(self.adj.recv_bytes):
                    break
        except OSError:
            pass
        super().handle_close()

    def busy(self):
        """A request being read, run or sent."""
        return bool(self.request is not None or self.requests
                    or self.total_outbufs_len)


class _Server(waitress_server.TcpWSGIServer):
    """waitress on one of gunicorn's listening sockets."""

    channel_class = _Channel

    def __init__(self, app, socket_map, sock, adj, dispatcher, health,
                 streams, in_flight):
        self.health_dispatcher = health
        self.stream_dispatcher = streams
        self.in_flight = in_flight
        sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
        super().__init__(app, socket_map, True, sock, dispatcher=dispatcher,
                         adj=adj, bind_socket=False, sockinfo=sockinfo)

    def add_task(self, channel):
        request = channel.requests[0]
        if not request.error and request.path.rstrip("/") == HEALTH_PATH:
            self.health_dispatcher.add_task(channel)
        elif _is_stream(request):
            self.stream_dispatcher.add_task(channel)
        else:
            super().add_task(channel)

    def maintenance(self, now):
        """Close the connections that took too long to send a request
        (waitress alone only closes those that send nothing)."""
        cutoff = now - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            if not channel.requests and channel.reading_since() < cutoff:
                channel.will_close = True


class _InFlight:
    """The requests the application threads are running."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tasks = {}

    def begin(self, task):
        with self._lock:
            self._tasks[id(task)] = (time.monotonic(), task)

    def end(self, task):
        with self._lock:
            self._tasks.pop(id(task), None)

    def oldest(self):
        """The monotonic start of the oldest request running, or None."""
        with self._lock:
            return min((started for started, _ in self._tasks.values()),
                       default=None)

    def tasks(self):
        with self._lock:
            return [task for _, task in self._tasks.values()]


def _adjustments(conf):
    return adjustments.Adjustments(
        threads=conf.api.threads,
        channel_timeout=conf.api.request_read_timeout,
        cleanup_interval=CLEANUP_INTERVAL,
        max_request_body_size=conf.api.max_request_body_size,
        # oslo.middleware's http_proxy_to_wsgi reads the X-Forwarded-*
        # headers when [oslo_middleware] says a proxy sets them.
        clear_untrusted_proxy_headers=False,
        asyncore_use_poll=True,
        ident="panko-like-api",
        # Fewer turns of the loop per request, and a batch of events
        # (about 1 MB per 1000) kept in memory rather than spilled to
        # a temporary file while it is read.
        recv_bytes=RECV_BYTES,
        inbuf_overflow=INBUF_OVERFLOW,
        # A streamed answer waits for the client past this much unsent.
        outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
    )


class Worker(base.Worker):
    """A gunicorn worker process serving with waitress."""

    def init_process(self):
        self.in_flight = _InFlight()
        self.socket_map = {}
        self.next_heartbeat = 0.0
        super().init_process()

    def heartbeat(self):
        """Tell the arbiter the worker is alive as of the start of its
        oldest request: past ``worker_timeout`` it is replaced."""
        now = time.monotonic()
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + HEARTBEAT_INTERVAL
        oldest = self.in_flight.oldest()
        stamp = now if oldest is None else oldest
        # What WorkerTmp.notify does, with that time.
        os.utime(self.tmp.fileno(), (stamp, stamp))

    def run(self):
        adj = _adjustments(self.app.conf)
        dispatcher = waitress_task.ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        health = waitress_task.ThreadedTaskDispatcher()
        health.set_thread_count(1)
        # A thread per stream, and one more that answers 503 when they
        # are all taken.
        streams = waitress_task.ThreadedTaskDispatcher()
        streams.set_thread_count(self.app.conf.api.max_stream_subscribers + 1)
        servers = [
            _Server(self.wsgi, self.socket_map, listener.sock, adj,
                    dispatcher, health, streams, self.in_flight)
            for listener in self.sockets
        ]
        while self.alive:
            self.heartbeat()
            wasyncore.loop(timeout=LOOP_TIMEOUT, use_poll=True,
                           map=self.socket_map, count=1)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
        self._finish(servers)
        for each in (dispatcher, health, streams):
            each.shutdown(timeout=1)
        wasyncore.close_all(self.socket_map)

    def _channels(self):
        return [each for each in list(self.socket_map.values())
                if isinstance(each, _Channel)]

    def _finish(self, servers):
        """Serve what was being read or run when SIGTERM came, within
        the graceful timeout; close idle connections."""
        for server in servers:
            server.accepting = False
        # Streams end now; their clients resume elsewhere.
        stream_hub.stop_all()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline:
            channels = self._channels()
            for channel in channels:
                if not channel.busy():
                    channel.handle_close()
            if not any(channel.busy() for channel in channels):
                return
            self.heartbeat()
            wasyncore.loop(timeout=LOOP_TIMEOUT, use_poll=True,
                           map=self.socket_map, count=1)

    def handle_abort(self, sig, frame):
        """Killed by the arbiter for a request past ``worker_timeout``:
        answer the clients still waiting, then exit."""
        body = errors.error_json(
            503, "The request was not answered within [api] "
            "worker_timeout; its worker was restarted.")
        answer = (b"HTTP/1.1 503 Service Unavailable\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Connection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body)) + body
        for task in self.in_flight.tasks():
            if task.wrote_header:
                continue
            LOG.error("%s %s not answered within [api] worker_timeout",
                      task.request.command, task.request.path)
            try:
                task.channel.socket.setblocking(True)
                task.channel.socket.settimeout(1)
                task.channel.socket.sendall(answer)
            except OSError:
                pass
        super().handle_abort(sig, frame)

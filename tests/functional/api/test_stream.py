"""GET /v2/events/stream over the real WSGI stack, on every backend."""

import json
import threading
import time

import webob

from panko_like.api import stream_hub
from tests.functional import api_base, backends
from tests.functional.api_base import ADMIN_A, USER_A1, USER_B, event, owned

STREAM = "/v2/events/stream"
#: Seconds a test waits for what it expects (polls are 0.05 s here).
WAIT = 15


class SSEReader(threading.Thread):
    """A stream read in a thread: ``messages`` is [(id, event dict)]."""

    def __init__(self, app, path, headers, last_id=None):
        super().__init__(daemon=True)
        headers = dict(headers)
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        request = webob.Request.blank(path, headers=headers)
        self.status, headerlist, self.app_iter = request.call_application(app)
        self.headers = {k.lower(): v for k, v in headerlist}
        self.messages = []
        self.comments = []
        self.ended = threading.Event()
        self._lock = threading.Condition()

    def run(self):
        buffer = b""
        try:
            for piece in self.app_iter:
                buffer += piece
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._parse(block.decode())
        finally:
            self.ended.set()
            with self._lock:
                self._lock.notify_all()

    def _parse(self, block):
        fields = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            with self._lock:
                self.messages.append(
                    (fields["id"], json.loads(fields["data"])))
                self._lock.notify_all()

    def wait_for(self, count, timeout=WAIT):
        with self._lock:
            self._lock.wait_for(
                lambda: len(self.messages) >= count or self.ended.is_set(),
                timeout)
            return list(self.messages)

    def ids(self):
        return [body["message_id"] for _, body in self.messages]



@backends.requires("events:stream")
class StreamScenarios:
    overrides = {("api", "stream_poll_interval"): 0.05,
                 ("api", "stream_settle_delay"): 0.1,
                 ("api", "max_stream_subscribers"): 3}

    def open(self, query="", headers=ADMIN_A, last_id=None, timeout=WAIT):
        path = f"{STREAM}?timeout={timeout}" + (f"&{query}" if query else "")
        reader = SSEReader(self.app.app, path, headers, last_id)
        self.assertEqual("200 OK", reader.status)
        reader.start()
        self.addCleanup(reader.join, WAIT)
        # Streams end when their hub stops, as on a worker's shutdown.
        self.addCleanup(stream_hub.hub_of(
            self.conf, self.app.app.storage_holder).stop)
        return reader

    def batch(self, prefix, count, project="proj-a", user="u-a1"):
        self.load([event(f"{prefix}-{i:03d}", owned(project, user))
                   for i in range(count)])
        return [f"{prefix}-{i:03d}" for i in range(count)]

    def test_new_events_arrive_in_stored_order(self):
        self.load()
        # Stored before the stream, and settled: not delivered.
        time.sleep(0.3)
        reader = self.open("q.field=all_tenants&q.value=True")
        self.assertEqual("text/event-stream",
                         reader.headers["content-type"])
        self.assertEqual("no-cache", reader.headers["cache-control"])
        expected = []
        for number in range(3):
            expected += self.batch(f"n{number}", 4)
            time.sleep(0.02)
        reader.wait_for(len(expected))
        self.assertEqual(expected, reader.ids())
        ids = [message_id for message_id, _ in reader.messages]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual({"project_id", "user_id"},
                         {t["name"] for t in reader.messages[0][1]["traits"]})

    def test_member_receives_only_own_events(self):
        member = self.open(headers=USER_A1)
        other = self.open(headers=USER_B)
        admin = self.open()
        self.load(api_base.fixture_events())
        self.batch("b", 2, "proj-b", "u-b")
        self.batch("mine", 2)
        member.wait_for(3)
        self.assertEqual(["a1", "mine-000", "mine-001"], member.ids())
        other.wait_for(3)
        self.assertEqual({"b1", "b-000", "b-001"}, set(other.ids()))
        # An admin without all_tenants: its project and no project.
        admin.wait_for(6)
        self.assertEqual({"a1", "a2", "np", "bare", "mine-000", "mine-001"},
                         set(admin.ids()))

    def test_filters_apply(self):
        reader = self.open("q.field=all_tenants&q.value=True"
                           "&q.field=event_type&q.value=heartbeat")
        self.load(api_base.fixture_events())
        self.batch("c", 2)
        reader.wait_for(2)
        time.sleep(0.5)
        self.assertEqual({"np", "bare"}, set(reader.ids()))

    def test_resume_with_last_event_id(self):
        first = self.open(timeout=2)
        expected = self.batch("r1", 5)
        first.wait_for(5)
        first.join(WAIT)
        resume_from = first.messages[2][0]
        expected += self.batch("r2", 3)
        second = self.open(last_id=resume_from)
        second.wait_for(5)
        received = first.ids()[:3] + second.ids()
        self.assertEqual(expected, received)

    def test_late_commit_is_delivered_once(self):
        # A batch written in one transaction is stamped when its rows
        # are written and visible when it commits, later. With no
        # settle delay the poller's horizon passes the stamp before the
        # commit, so the hub reports the batch's ids as late ones (see
        # stream_hub), while the stream's own page read, still behind
        # them, finds them too: each event must come exactly once.
        self.conf.set_override("stream_settle_delay", 0, group="api")
        self.conf.set_override("stream_lookback", 60, group="api")
        # The hub keeps its last 64 ticks: polling this often, a stream
        # busy delivering the batch falls further behind than that, and
        # must find what those ticks reported itself.
        self.conf.set_override("stream_poll_interval", 0.01, group="api")
        # MongoDB's test server takes seconds for such a batch.
        reader = self.open(timeout=120)
        time.sleep(0.3)
        expected = self.batch("big", 1000) + self.batch("after", 1)
        reader.wait_for(len(expected), timeout=120)
        time.sleep(0.5)  # nothing more may come
        received = reader.ids()
        self.assertEqual(len(received), len(set(received)))
        self.assertEqual(sorted(expected), sorted(received))

    def test_malformed_last_event_id(self):
        # Not base64; no "<micros>." in it; a lone byte.
        for bad in ("nope!", "bm8tZG90", "eA"):
            request = webob.Request.blank(
                STREAM, headers={**ADMIN_A, "Last-Event-ID": bad})
            response = request.get_response(self.app.app)
            self.assertError(response, 400)
            self.assertIn("Last-Event-ID", response.json[
                "error_message"]["faultstring"])

    def test_bad_arguments(self):
        for query in ("timeout=0", "timeout=x", "limit=3", "marker=a1",
                      "sort=generated", "nope=1"):
            with self.subTest(query=query):
                self.assertError(
                    self.get(f"{STREAM}?{query}", status=400), 400)

    def test_quiet_stream_sends_keepalives(self):
        self.conf.set_override("stream_keepalive_interval", 1, group="api")
        reader = self.open(timeout=2.5)
        self.assertTrue(reader.ended.wait(WAIT))
        self.assertIn(": keep-alive", reader.comments)
        self.assertEqual([], reader.messages)

    def test_head_has_no_stream(self):
        response = self.app.head(STREAM, headers=ADMIN_A, status=200)
        self.assertEqual("text/event-stream", response.content_type)

    def test_timeout_ends_the_stream(self):
        reader = self.open(timeout=0.3)
        self.assertTrue(reader.ended.wait(WAIT))
        self.assertIn(": stream opened", reader.comments)

    def test_subscribers_are_capped(self):
        for _ in range(3):
            self.open()
        response = self.get(STREAM, status=503)
        self.assertError(response, 503, faultcode="Server")
        self.assertEqual("1", response.headers["Retry-After"])


globals().update(backends.make_test_cases(
    StreamScenarios, base=api_base.APITestCase))


class LogDriverStream(api_base.APITestCase):
    backend_name = "sqlite"

    def test_log_driver_answers_501(self):
        self.conf.set_override("connection", "log://", group="database")
        app = self.make_app()
        response = app.get(STREAM, headers=ADMIN_A, status=501)
        self.assertError(response, 501, faultcode="Server")

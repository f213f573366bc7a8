"""The storage lost, before a request and during it, on every backend and
for every endpoint, through the real WSGI stack.

The servers are lost for real: the API is pointed at a loopback TCP
proxy (tests.functional.proxy) in front of the server, which the test
makes refuse new connections, cut the open ones, and accept again; the
machine's servers themselves are never touched. SQLite has no
connection to lose: see SQLiteLoss for what stands for a loss there.

``[api] storage_timeout`` is small here, so that an outage is answered
with 503 in about a second and a half.
"""

import os
import re
import threading
import time
import uuid

import sqlalchemy as sa

from panko_like.storage import EventFilter
from tests.functional import backends, proxy
from tests.functional.api_base import ADMIN_A, APITestCase, event, owned

#: [api] storage_timeout of these tests, in seconds.
STORAGE_TIMEOUT = 1.5
#: What an answer to a lost storage may take beyond storage_timeout: the
#: first wait (0.2 s), one last attempt, the WSGI stack.
MARGIN = 2.0
TYPE = "compute.instance.create.end"
#: Where in a request its connections are cut: at the server's first,
#: second and fourth packet (or statement, on SQLite) after it begins.
STEPS = (1, 2, 4)
UNAVAILABLE = "The storage is not available."
OUT_OF_RESOURCES = ("The storage is out of resources (disk space, memory "
                    "or connections); try again later.")


def api_event(message_id):
    return {"message_id": message_id, "event_type": TYPE,
            "generated": "2026-03-01T10:00:00.000001",
            "traits": [{"name": "project_id", "type": "string",
                        "value": "proj-a"},
                       {"name": "flavor", "type": "string",
                        "value": "m1.tiny"}],
            "raw": {"id": message_id}}


def wait_until(predicate, timeout=30, what="the condition"):
    """Poll ``predicate`` until it is true, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.05)


class ProxyLoss:
    """A server behind a proxy: lost by refusing and cutting, for real."""

    cuts_open_connections = True

    def __init__(self, url):
        self.real_url = url
        host, port = self.address(url)
        self.proxy = proxy.Proxy(host, port)
        self.url = self.proxied(url, self.proxy.port)

    @staticmethod
    def address(url):
        if url.startswith("mongodb"):
            netloc = re.match(r"mongodb://(?:[^@/]*@)?([^/?]*)", url)[1]
            host, _, port = netloc.rpartition(":")
            return host, int(port or 27017)
        parsed = sa.engine.make_url(url)
        default = 5432 if parsed.get_backend_name() == "postgresql" else 3306
        return parsed.host or "127.0.0.1", parsed.port or default

    @staticmethod
    def proxied(url, port):
        if url.startswith("mongodb"):
            return re.sub(r"(mongodb://(?:[^@/]*@)?[^:/?]*):\d+",
                          rf"\g<1>:{port}", url, count=1)
        return sa.engine.make_url(url).set(
            host="127.0.0.1", port=port).render_as_string(
                hide_password=False)

    def attach(self, holder):
        """Nothing to do: the proxy sees every connection."""

    def lose(self):
        self.proxy.lose()

    def restore(self):
        self.proxy.restore()

    def cut_during(self, step):
        """Cut every connection at the ``step``-th packet the server
        sends from now on; new connections are accepted at once."""
        self.proxy.cut_after(step)

    def lose_during(self, step):
        """Lose the server for good at its ``step``-th packet."""
        self.proxy.cut_after(step, refuse=True)

    def fired(self):
        """Whether the last armed loss happened (and disarm it)."""
        return self.proxy.disarm()

    def close(self):
        self.proxy.close()


class SQLiteLoss:
    """An SQLite database lost: its directory renamed away, and the
    pool of the API's engine emptied, so that no connection can open
    the file (SQLite answers "unable to open database file", as it does
    for a volume that went away) until the directory is renamed back.

    A connection already open keeps its file through a rename (the
    inode stays open), which is what an open SQLite database does when
    its volume is lost too. So "during a request" is the directory
    renamed away at the ``step``-th statement the API's engine runs:
    the statement and its transaction go on, any further connection
    the request takes cannot open the file. A cut is the directory
    renamed back a moment later (0.3 s: a short outage, which the
    request's retries outlast); a loss leaves it away. A write that
    has begun therefore completes on SQLite, lost or not.
    """

    cuts_open_connections = False

    def __init__(self, url):
        self.url = url
        self.directory = os.path.dirname(sa.engine.make_url(url).database)
        self.away = self.directory + ".lost"
        self.engine = None
        self.countdown = None
        self.lock = threading.Lock()
        self.back_after = None
        self.armed_fired = False

    def attach(self, holder):
        """Watch the statements of the API's engine (connected now)."""
        self.engine = holder.get().engine
        sa.event.listen(self.engine, "before_cursor_execute", self._step)

    def lose(self):
        if os.path.exists(self.directory):
            os.rename(self.directory, self.away)
        if self.engine is not None:
            self.engine.dispose()

    def restore(self):
        if os.path.exists(self.away):
            os.rename(self.away, self.directory)

    def cut_during(self, step):
        self._arm(step, back_after=0.3)

    def lose_during(self, step):
        self._arm(step, back_after=None)

    def _arm(self, step, back_after):
        with self.lock:
            self.countdown = step
            self.back_after = back_after
            self.armed_fired = False

    def _step(self, *_args):
        with self.lock:
            if self.countdown is None:
                return
            self.countdown -= 1
            if self.countdown > 0:
                return
            self.countdown = None
            self.armed_fired = True
        os.rename(self.directory, self.away)
        # Dispose from another thread: the statement's own connection
        # is checked out and stays open (see the class docstring).
        threading.Thread(target=self.engine.dispose).start()
        if self.back_after is not None:
            # The outage's length, not a synchronisation: the request
            # under test retries until the file is back.
            timer = threading.Timer(self.back_after, self.restore)
            timer.start()

    def fired(self):
        with self.lock:
            fired, self.armed_fired = self.armed_fired, False
            self.countdown = None
        return fired

    def close(self):
        self.restore()


class OutageScenarios:
    """Every endpoint, with the storage lost before and during it."""

    def setUp(self):
        super().setUp()
        if self.backend_name == "sqlite":
            self.loss = SQLiteLoss(self.url)
        else:
            self.loss = ProxyLoss(self.url)
        self.addCleanup(self.loss.close)
        self.conf.set_override("storage_timeout", STORAGE_TIMEOUT,
                               group="api")
        self.conf.set_override("retry_interval", 1, group="database")
        # /healthcheck waits for the storage as long as a request does:
        # what is tested here is the retry, not the check's own bound.
        self.conf.set_override("healthcheck_timeout", STORAGE_TIMEOUT + 1,
                               group="api")
        self.conf.set_override("connection", self.loss.url,
                               group="database")
        self.app = self.make_app()
        self.load()

    def make_app(self, **extra_environ):
        app = super().make_app(**extra_environ)
        self.holder = app.app.storage_holder
        return app

    # The endpoints, each a request and the status it has when served.

    def endpoints(self, tag):
        """(name, request, status) of every endpoint; ``tag`` names the
        event that POST sends and DELETE deletes (stored here)."""
        self.conn.record_events([self.stored_event(f"del-{tag}")])
        traits = f"/v2/event_types/{TYPE}/traits"
        return [
            ("GET /v2/events", lambda: self.call("GET", "/v2/events"), 200),
            ("GET /v2/events/{id}",
             lambda: self.call("GET", "/v2/events/a1"), 200),
            ("GET /v2/event_types",
             lambda: self.call("GET", "/v2/event_types"), 200),
            ("GET traits", lambda: self.call("GET", traits), 200),
            ("GET trait", lambda: self.call("GET", traits + "/flavor"), 200),
            ("POST /v2/events",
             lambda: self.call("POST", "/v2/events",
                               [api_event(f"new-{tag}")]), 201),
            ("DELETE /v2/events/{id}",
             lambda: self.call("DELETE", f"/v2/events/del-{tag}"), 204),
            ("GET /v2/capabilities",
             lambda: self.call("GET", "/v2/capabilities"), 200),
            ("GET /healthcheck", lambda: self.call("GET", "/healthcheck"),
             200),
        ]

    def stored_event(self, message_id):
        return event(message_id, owned("proj-a", "admin-a"))

    def call(self, method, path, body=None):
        kwargs = {"headers": ADMIN_A, "expect_errors": True}
        if body is not None:
            return self.app.post_json(path, body, **kwargs)
        return self.app.request(path, method=method, **kwargs)

    def timed(self, request):
        start = time.monotonic()
        response = request()
        return response, time.monotonic() - start

    def assertUnavailable(self, response, elapsed, message=UNAVAILABLE):
        self.assertEqual(503, response.status_int, response.body)
        self.assertLess(elapsed, STORAGE_TIMEOUT + MARGIN)
        # Both say when to come back; oslo.middleware's healthcheck
        # answers in its own format, for load balancers.
        self.assertLessEqual(1, int(response.headers["Retry-After"]))
        if response.request.path != "/healthcheck":
            self.assertEqual("application/json", response.content_type)
            self.assertEqual(message,
                             response.json["error_message"]["faultstring"])

    def stored_ids(self):
        return sorted(e.message_id
                      for e in self.conn.get_events(EventFilter()))

    def served(self, tag):
        """Every endpoint answers as when nothing happened."""
        for name, request, status in self.endpoints(tag):
            with self.subTest(endpoint=name, after="restore"):
                response = request()
                self.assertEqual(status, response.status_int,
                                 response.body)

    # Lost before the request

    def test_lost_before_the_request(self):
        self.served("warm")  # the pool holds connections now
        self.loss.attach(self.holder)
        self.loss.lose()
        figures = {}
        for name, request, _status in self.endpoints("lost"):
            with self.subTest(endpoint=name):
                response, elapsed = self.timed(request)
                figures[name] = round(elapsed, 2)
                if name == "GET /v2/capabilities":
                    self.assertEqual(200, response.status_int)
                    continue
                self.assertUnavailable(response, elapsed)
        print(f"\n{self.backend_name}: seconds to 503: {figures}")
        self.loss.restore()
        wait_until(lambda: self.call("GET", "/healthcheck").status_int
                   == 200, what="healthcheck 200")
        self.served("back")
        self.assertNotIn("new-lost", self.stored_ids())
        self.assertIn("new-back", self.stored_ids())

    def test_lost_before_the_first_request(self):
        # The app connects on its first request: an app started during
        # the outage.
        self.loss.attach(self.holder)
        self.app = self.make_app()
        self.loss.lose()
        for name, request, _status in self.endpoints("lost"):
            with self.subTest(endpoint=name):
                response, elapsed = self.timed(request)
                if name == "GET /v2/capabilities":
                    self.assertEqual(200, response.status_int,
                                     response.body)
                    continue
                self.assertUnavailable(response, elapsed)
        self.loss.restore()
        wait_until(lambda: self.call("GET", "/healthcheck").status_int
                   == 200, what="healthcheck 200")
        self.served("back")

    # Lost during the request, back at once

    def test_cut_during_the_request_is_retried(self):
        self.served("warm")
        self.loss.attach(self.holder)
        fired = 0
        for step in STEPS:
            for name, request, status in self.endpoints(f"cut{step}"):
                with self.subTest(endpoint=name, step=step):
                    self.loss.cut_during(step)
                    response = request()
                    fired += self.loss.fired()
                    # A delete retried after its answer was lost finds
                    # nothing the second time: still 204.
                    self.assertEqual(status, response.status_int,
                                     response.body)
        self.assertGreater(fired, 0, "no request was cut")
        stored = self.stored_ids()
        for step in STEPS:
            self.assertIn(f"new-cut{step}", stored)
            self.assertNotIn(f"del-cut{step}", stored)

    def test_acknowledged_events_stored_once(self):
        self.served("warm")
        self.loss.attach(self.holder)
        acknowledged = set()
        for step in range(1, 7):
            batch = [api_event(f"ack{step}-{i}") for i in range(20)]
            with self.subTest(step=step):
                self.loss.cut_during(step)
                response = self.call("POST", "/v2/events", batch)
                self.loss.fired()
                self.assertEqual(201, response.status_int, response.body)
                body = response.json
                self.assertEqual(20, body["stored"] + len(body["duplicates"]))
                acknowledged.update(e["message_id"] for e in batch)
        stored = [i for i in self.stored_ids() if i.startswith("ack")]
        self.assertEqual(len(stored), len(set(stored)))
        self.assertEqual(sorted(acknowledged), stored)

    def test_batch_during_an_outage_is_whole_or_nothing(self):
        self.served("warm")
        self.loss.attach(self.holder)
        outcomes = []
        for step in range(1, 7):
            ids = {f"w{step}-{i}" for i in range(20)}
            with self.subTest(step=step):
                self.loss.lose_during(step)
                response = self.call("POST", "/v2/events",
                                     [api_event(i) for i in sorted(ids)])
                fired = self.loss.fired()
                self.loss.restore()
                self.assertIn(response.status_int, (201, 503),
                              response.body)
                stored = ids & set(self.stored_ids())
                if response.status_int == 201:
                    self.assertEqual(ids, stored)
                else:
                    self.assertIn(stored, (set(), ids))
                outcomes.append((step, fired, response.status_int,
                                 len(stored)))
        if self.loss.cuts_open_connections:
            self.assertIn(503, [status for _s, _f, status, _n in outcomes],
                          outcomes)
        print(f"\n{self.backend_name}: (step, lost, status, stored): "
              f"{outcomes}")

    # Resources

    def test_healthcheck_follows_the_outage(self):
        self.assertEqual(200, self.call("GET", "/healthcheck").status_int)
        self.loss.attach(self.holder)
        self.loss.lose()
        response, elapsed = self.timed(
            lambda: self.call("GET", "/healthcheck"))
        self.assertUnavailable(response, elapsed)
        self.assertIn("storage unavailable", response.text)
        self.loss.restore()
        wait_until(lambda: self.call("GET", "/healthcheck").status_int
                   == 200, what="healthcheck 200")


globals().update(backends.make_test_cases(
    OutageScenarios, base=APITestCase))


class SQLiteFullScenarios:
    """A database out of disk space: 503 at once, not an outage."""

    def setUp(self):
        super().setUp()
        self.conf.set_override("storage_timeout", STORAGE_TIMEOUT,
                               group="api")
        self.app = self.make_app()
        self.limit = None
        engine = self.app.app.storage_holder.get().engine

        def limited(dbapi_conn, _record):
            if self.limit is not None:
                dbapi_conn.execute(f"PRAGMA max_page_count={self.limit}")

        sa.event.listen(engine, "connect", limited)
        self.engine = engine

    def set_limit(self, pages):
        """Every connection of the API's engine may grow the database
        to ``pages`` pages (PRAGMA max_page_count is per connection)."""
        self.limit = pages
        self.engine.dispose()

    def test_disk_full_is_503_until_a_write_succeeds(self):
        with self.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        self.set_limit(pages)
        batch = [api_event(f"full-{i}") for i in range(200)]
        start = time.monotonic()
        with self.assertLogs("panko_like", "WARNING") as logs:
            response = self.app.post_json("/v2/events", batch,
                                          headers=ADMIN_A, status=503)
            health = self.app.get("/healthcheck", status=503)
        elapsed = time.monotonic() - start
        self.assertEqual(OUT_OF_RESOURCES,
                         response.json["error_message"]["faultstring"])
        self.assertLessEqual(1, int(response.headers["Retry-After"]))
        self.assertIn("storage out of resources", health.text)
        self.assertFalse([line for line in logs.output
                          if "attempt" in line], logs.output)
        self.assertLess(elapsed, STORAGE_TIMEOUT)
        # Reads still work; the health stays failed until a write works.
        self.app.get("/v2/events", headers=ADMIN_A, status=200)
        self.app.get("/healthcheck", status=503)
        self.set_limit(pages + 100000)
        self.app.post_json("/v2/events", batch, headers=ADMIN_A,
                           status=201)
        self.app.get("/healthcheck", status=200)
        self.assertEqual(200, len(self.app.get(
            "/v2/events?limit=1000", headers=ADMIN_A).json))


globals().update(backends.make_test_cases(
    SQLiteFullScenarios, base=APITestCase, names=("sqlite",)))


class TooManyConnectionsScenarios:
    """A PostgreSQL role allowed no connection: the server is up but
    has no connection for it, a resource error: 503 at once."""

    def setUp(self):
        super().setUp()
        self.role = f"panko_like_full_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT",
                                 poolclass=sa.NullPool)
        self.addCleanup(admin.dispose)
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f'CREATE ROLE "{self.role}" LOGIN CONNECTION LIMIT 0')
        self.addCleanup(self.drop_role, admin)
        self.role_url = sa.engine.make_url(self.url).set(
            username=self.role, password=None).render_as_string(
                hide_password=False)

    def drop_role(self, admin):
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{self.role}"')

    def test_api_answers_503_at_once(self):
        self.conf.set_override("storage_timeout", STORAGE_TIMEOUT,
                               group="api")
        self.conf.set_override("connection", self.role_url,
                               group="database")
        app = self.make_app()
        for request in (
            lambda: app.get("/v2/events", headers=ADMIN_A, status=503),
            lambda: app.post_json("/v2/events", [api_event("x")],
                                  headers=ADMIN_A, status=503),
        ):
            start = time.monotonic()
            response = request()
            self.assertLess(time.monotonic() - start, STORAGE_TIMEOUT)
            self.assertEqual(OUT_OF_RESOURCES,
                             response.json["error_message"]["faultstring"])
            self.assertIn("Retry-After", response.headers)
        app.get("/healthcheck", status=503)


globals().update(backends.make_test_cases(
    TooManyConnectionsScenarios, base=APITestCase, names=("postgresql",)))
